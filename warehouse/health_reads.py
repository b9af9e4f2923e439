"""SQL reads for the report's overdose and community-voice sections (aggregates only).

Deaths are counts of people: the report reads them per area and month from the loaded cases but
only as counts; per-area totals in 1..``small_cell_threshold`` are shown as suppressed by the
section (like the analyst marts). Case rows never leave the database.
"""
from __future__ import annotations

import pandas as pd
from sqlalchemy import Date, and_, cast, func, select

from warehouse.reads import OverdoseSpan, read_overdose_span
from warehouse.resource import Warehouse
from warehouse.tables import dim_police_unit_crosswalk, fct_incidents, metadata

OVERDOSE_MONTH_COLUMNS = ["neighborhood_id", "month_start", "n_deaths"]
ARRESTS_COLUMNS = ["neighborhood_id", "n_drug_arrests"]
VOICE_COLUMNS = ["neighborhood_id", "source", "indicator_code", "indicator_name", "period_label", "estimate",
                 "ci_lower", "ci_upper", "sample_size", "is_suppressed", "coverage"]
# Healthy Chicago Survey codes the community-voice panel shows (safety, trust in police).
VOICE_INDICATORS = ("HCSNSP", "HCSTLEP")


def read_overdose_months(wh: Warehouse) -> tuple[pd.DataFrame, OverdoseSpan | None]:
    """Return opioid-related deaths per community area and month of death (``OVERDOSE_MONTH_COLUMNS``;
    areas only, no case rows) and the series' span with its provisional window."""
    t = metadata.tables["fct_medical_examiner_cases"]
    month = func.date_trunc("month", t.c.death_date)
    query = (select(t.c.neighborhood_id, cast(month, Date).label("month_start"), func.count().label("n"))
             .where(t.c.is_opioid_related.is_(True), t.c.neighborhood_id.is_not(None))
             .group_by(t.c.neighborhood_id, month))
    with wh.connect() as conn:
        rows = conn.execute(query).all()
    frame = pd.DataFrame(rows, columns=OVERDOSE_MONTH_COLUMNS)
    frame["neighborhood_id"] = frame["neighborhood_id"].astype("str")
    frame["month_start"] = pd.to_datetime(frame["month_start"])
    frame["n_deaths"] = pd.to_numeric(frame["n_deaths"]).astype("int64")
    return frame, read_overdose_span(wh)


def read_drug_arrests_by_area(wh: Warehouse, first_day: pd.Timestamp, last_day: pd.Timestamp) -> pd.DataFrame:
    """Return drug incidents with an arrest per community area between two days (inclusive)."""
    t = fct_incidents
    day = cast(t.c.occurred_at, Date)
    query = (select(t.c.neighborhood_id, func.count().label("n"))
             .where(t.c.is_drug_offense.is_(True), t.c.is_arrest.is_(True), t.c.neighborhood_id.is_not(None),
                    and_(day >= first_day.date(), day <= last_day.date()))
             .group_by(t.c.neighborhood_id))
    with wh.connect() as conn:
        rows = conn.execute(query).all()
    frame = pd.DataFrame(rows, columns=ARRESTS_COLUMNS)
    frame["neighborhood_id"] = frame["neighborhood_id"].astype("str")
    frame["n_drug_arrests"] = pd.to_numeric(frame["n_drug_arrests"]).astype("int64")
    return frame


def read_incident_days(wh: Warehouse) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """Return the first and last day of drug incidents, or None when there are none."""
    t = fct_incidents
    with wh.connect() as conn:
        lo, hi = conn.execute(select(func.min(t.c.occurred_at), func.max(t.c.occurred_at))
                              .where(t.c.is_drug_offense.is_(True))).one()
    return None if lo is None else (pd.Timestamp(lo).normalize(), pd.Timestamp(hi).normalize())


def read_community_voice(wh: Warehouse) -> pd.DataFrame:
    """Return the latest period of safety and trust per community area (``VOICE_COLUMNS``).

    Survey: the latest period of each ``VOICE_INDICATORS`` code. Sentiment: the mean of the last
    12 monthly sector scores (CPD_SAFETY, CPD_TRUST), carried to areas by the crosswalk weights;
    ``coverage`` is the weight of the sectors that reported."""
    s = metadata.tables["fct_survey_indicators"]
    with wh.connect() as conn:
        survey = pd.DataFrame(conn.execute(select(
            s.c.neighborhood_id, s.c.indicator_code, s.c.indicator_name, s.c.period_label, s.c.period_end_year,
            s.c.estimate, s.c.ci_lower, s.c.ci_upper, s.c.sample_size, s.c.is_suppressed)
            .where(s.c.indicator_code.in_(VOICE_INDICATORS))).all(),
            columns=["neighborhood_id", "indicator_code", "indicator_name", "period_label", "period_end_year",
                     "estimate", "ci_lower", "ci_upper", "sample_size", "is_suppressed"])
        sentiment = _sentiment_by_area(conn)
    if len(survey):
        latest = survey.groupby("indicator_code")["period_end_year"].transform("max")
        survey = survey[survey["period_end_year"] == latest].drop(columns="period_end_year")
        survey = survey.assign(source="healthy_chicago_survey", coverage=1.0)
    else:
        survey = pd.DataFrame(columns=VOICE_COLUMNS)
    out = pd.concat([survey, sentiment], ignore_index=True) if len(sentiment) else survey
    out = out.reindex(columns=VOICE_COLUMNS)
    out["neighborhood_id"] = out["neighborhood_id"].astype("str")
    for c in ("estimate", "ci_lower", "ci_upper", "coverage"):
        out[c] = pd.to_numeric(out[c]).astype("float64")
    return out.reset_index(drop=True)


def _sentiment_by_area(conn) -> pd.DataFrame:
    p, w = metadata.tables["fct_police_sentiment"], dim_police_unit_crosswalk
    last = conn.execute(select(func.max(p.c.period_start)).where(p.c.unit_level == "sector",
                                                                 p.c.period_kind == "month")).scalar()
    if last is None:
        return pd.DataFrame(columns=VOICE_COLUMNS)
    first = (pd.Timestamp(last) - pd.DateOffset(months=11)).date()
    units = (select(p.c.unit_id, func.avg(p.c.safety).label("safety"), func.avg(p.c.trust).label("trust"))
             .where(p.c.unit_level == "sector", p.c.period_kind == "month", p.c.period_start >= first)
             .group_by(p.c.unit_id).subquery())
    query = (select(w.c.neighborhood_id,
                    (func.sum(units.c.safety * w.c.weight) / func.sum(w.c.weight)).label("safety"),
                    (func.sum(units.c.trust * w.c.weight) / func.sum(w.c.weight)).label("trust"),
                    func.sum(w.c.weight).label("coverage"))
             .join(units, and_(w.c.unit_id == units.c.unit_id, w.c.unit_level == "sector"))
             .group_by(w.c.neighborhood_id))
    rows = pd.DataFrame(conn.execute(query).all(), columns=["neighborhood_id", "safety", "trust", "coverage"])
    label = f"{pd.Timestamp(first):%b %Y}–{pd.Timestamp(last):%b %Y}"
    names = {"safety": ("CPD_SAFETY", "Police sentiment: how safe residents feel (0-100)"),
             "trust": ("CPD_TRUST", "Police sentiment: trust in police (0-100)")}
    parts = [rows.assign(source="police_sentiment", indicator_code=code, indicator_name=name, period_label=label,
                         estimate=rows[col], is_suppressed=False)
             for col, (code, name) in names.items()]
    return pd.concat(parts, ignore_index=True).reindex(columns=VOICE_COLUMNS)

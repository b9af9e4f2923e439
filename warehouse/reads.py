"""SQL reads for the trends flow and the report: warehouse tables -> frames (SQLAlchemy Core).

The same code runs on DuckDB and PostgreSQL. Counts come straight from ``fct_incidents``
(incidents are not person-level, so no small-cell suppression applies); admissions are aggregated
inside the database and never leave it as person rows.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Date, case, cast, func, select

from warehouse.resource import Warehouse
from warehouse.tables import dim_neighborhoods, fct_incidents, load_audit, metadata

DAILY_COLUMNS = ["neighborhood_id", "day", "value"]


@dataclass(frozen=True)
class Span:
    """First and last day covered by a source (both complete, inclusive)."""

    first_day: pd.Timestamp
    last_day: pd.Timestamp



def read_incident_span(wh: Warehouse) -> Span | None:
    """Return the first and last day of ``fct_incidents`` (any offense), or None when it is empty."""
    t = fct_incidents
    with wh.connect() as conn:
        lo, hi = conn.execute(select(func.min(t.c.occurred_at), func.max(t.c.occurred_at))).one()
    if lo is None:
        return None
    # NOTE: the last file is an extract "through 2018-11-12" and that day holds 636 incidents
    # against 603-680 on each of the six days before, so the last day present counts as complete.
    return Span(pd.Timestamp(lo).normalize(), pd.Timestamp(hi).normalize())


def read_drug_incidents_daily(wh: Warehouse) -> pd.DataFrame:
    """Return drug-offense incidents per neighborhood and day (``DAILY_COLUMNS``; null id = not geocoded)."""
    t = fct_incidents
    day = cast(t.c.occurred_at, Date).label("day")
    query = (select(t.c.neighborhood_id, day, func.count().label("value"))
             .where(t.c.is_drug_offense).group_by(t.c.neighborhood_id, day))
    return _daily_frame(wh, query)


def read_drug_incidents_counts(wh: Warehouse) -> tuple[pd.DataFrame, Span | None, bool]:
    """Return drug incidents per neighborhood and day, the incident span (any offense) and False (real data).

    The shape every trends metric reader has (``tasks.trends.prepare.Metric.read``).
    """
    span = read_incident_span(wh)
    if span is None:
        return pd.DataFrame(columns=DAILY_COLUMNS), None, False
    return read_drug_incidents_daily(wh), span, False


def read_admissions_daily(wh: Warehouse) -> tuple[pd.DataFrame, Span | None, bool]:
    """Return treatment admissions per neighborhood and day, their span and whether any row is synthetic.

    Only counts leave the database. Empty frame and None when there are no dated admissions.
    """
    t = metadata.tables["fct_treatment_admissions"]
    day = cast(t.c.admitted_on, Date).label("day")
    query = (select(t.c.neighborhood_id, day, func.count().label("value"))
             .where(t.c.admitted_on.is_not(None)).group_by(t.c.neighborhood_id, day))
    frame = _daily_frame(wh, query)
    if frame.empty:
        return frame, None, False
    with wh.connect() as conn:
        synthetic = conn.execute(select(func.count()).where(t.c.is_synthetic.is_(True))).scalar_one()
    return frame, Span(frame["day"].min(), frame["day"].max()), bool(synthetic)


def read_overdose_deaths_daily(wh: Warehouse) -> pd.DataFrame:
    """Return opioid-related deaths per community area and local date of death (``DAILY_COLUMNS``),
    metric ``overdose_deaths``. Only cases placed in an area: a case without one died outside the
    city (the archive covers Cook County), so there is no null-id row. Counts leave the database,
    never case rows."""
    t = metadata.tables["fct_medical_examiner_cases"]
    day = cast(t.c.death_date, Date).label("day")
    query = (select(t.c.neighborhood_id, day, func.count().label("value"))
             .where(t.c.is_opioid_related.is_(True), t.c.neighborhood_id.is_not(None))
             .group_by(t.c.neighborhood_id, day))
    return _daily_frame(wh, query)


@dataclass(frozen=True)
class OverdoseSpan(Span):
    """The overdose series' coverage and the first day of its provisional window (None: none).

    Days from ``provisional_from`` on are provisional (deaths still being certified): shade them,
    and keep them out of detector baselines."""

    provisional_from: pd.Timestamp | None = None


def read_overdose_span(wh: Warehouse) -> OverdoseSpan | None:
    """Return the overdose series' span (like ``int_overdose_window``), or None before any export loaded.

    Coverage starts at the first month of the last uninterrupted run of months holding
    opioid-related deaths (the archive starts 2014-08; a stray earlier case is left out) and ends
    with the latest death; the provisional window is the last ``provisional_months`` months of
    the export whose data ends last (``ref_death_exports``)."""
    t, ex = metadata.tables["fct_medical_examiner_cases"], metadata.tables["ref_death_exports"]
    with wh.connect() as conn:
        days = conn.execute(select(cast(t.c.death_date, Date)).where(t.c.is_opioid_related.is_(True)).distinct()).scalars().all()
        latest = conn.execute(select(ex.c.last_death_date, ex.c.provisional_months)
                              .where(ex.c.last_death_date.is_not(None))
                              .order_by(ex.c.last_death_date.desc(), ex.c.export_label).limit(1)).first()
    if not days:
        return None
    months = pd.PeriodIndex(pd.to_datetime(pd.Series(days)).dt.to_period("M").unique()).sort_values()
    gaps = [i for i in range(1, len(months)) if months[i] != months[i - 1] + 1]
    first = months[gaps[-1]] if gaps else months[0]
    last_day = pd.Timestamp(max(days))
    provisional = None
    if latest is not None and int(latest[1]) > 0:
        provisional = (pd.Period(pd.Timestamp(latest[0]), "M") - (int(latest[1]) - 1)).start_time
    return OverdoseSpan(first.start_time, last_day, provisional)


def read_overdose_deaths_counts(wh: Warehouse) -> tuple[pd.DataFrame, Span | None, bool]:
    """Return opioid-related deaths per area and day up to the provisional window, their span and False.

    The trends metric ``overdose_deaths`` (``tasks.trends.prepare.Metric.read``): days from the
    provisional window on are left out, so late-certified deaths never read as a fall and never
    enter a detector's baseline (the report shades them instead).
    """
    span = read_overdose_span(wh)
    if span is None:
        return pd.DataFrame(columns=DAILY_COLUMNS), None, False
    last = span.last_day if span.provisional_from is None else span.provisional_from - pd.Timedelta(days=1)
    if last < span.first_day:
        return pd.DataFrame(columns=DAILY_COLUMNS), None, False
    daily = read_overdose_deaths_daily(wh)
    days = pd.to_datetime(daily["day"])
    daily = daily[(days >= span.first_day) & (days <= last)].reset_index(drop=True)
    return daily, Span(span.first_day, last), False


def read_neighborhoods(wh: Warehouse) -> pd.DataFrame:
    """Return one row per neighborhood: neighborhood_id, name, population, geometry_wkt."""
    t = dim_neighborhoods
    with wh.connect() as conn:
        rows = conn.execute(select(t.c.neighborhood_id, t.c.name, t.c.population_2010, t.c.geometry_wkt)
                            .order_by(t.c.neighborhood_id)).all()
    frame = pd.DataFrame(rows, columns=["neighborhood_id", "name", "population", "geometry_wkt"])
    frame["neighborhood_id"] = frame["neighborhood_id"].astype("str")
    frame["population"] = pd.to_numeric(frame["population"]).astype("float64")
    return frame


def read_programs(wh: Warehouse) -> pd.DataFrame:
    """Return one row per program in ``dim_programs``: id, name, type, neighborhood, start, synthetic flag."""
    t = metadata.tables["dim_programs"]
    cols = ["program_id", "name", "program_type", "neighborhood_id", "started_on", "is_synthetic"]
    with wh.connect() as conn:
        rows = conn.execute(select(*(t.c[c] for c in cols)).order_by(t.c.program_id)).all()
    frame = pd.DataFrame(rows, columns=cols)
    frame["started_on"] = pd.to_datetime(frame["started_on"])
    return frame


def read_data_quality(wh: Warehouse) -> dict[str, pd.DataFrame]:
    """Return the data-quality panel's frames: batches per source, quarantine reasons, geocode precision.

    ``batches``: source, entity, n_batches, n_failed, n_validation_passed, rows_read, rows_loaded,
    rows_quarantined. ``quarantine``: entity, reason, n_rows (distinct batch rows). ``precision``:
    geocode_precision, n_incidents.
    """
    a = load_audit
    batches = select(
        a.c.source, a.c.entity, func.count().label("n_batches"),
        func.sum(_flag(a.c.status != "loaded")).label("n_failed"),
        func.sum(_flag(a.c.validation_success.is_(True))).label("n_validation_passed"),
        func.sum(a.c.rows_read).label("rows_read"), func.sum(a.c.rows_loaded).label("rows_loaded"),
        func.sum(a.c.rows_quarantined).label("rows_quarantined"),
    ).group_by(a.c.source, a.c.entity).order_by(a.c.source, a.c.entity)
    quarantine = []
    for name in sorted(n for n in metadata.tables if n.startswith("quarantine_")):
        q = metadata.tables[name]
        # A row failing two expectations has two quarantine rows: count distinct batch rows.
        rows = select(q.c.reason, q.c.batch_id, q.c.row_index).distinct().subquery()
        quarantine.append((name.removeprefix("quarantine_"),
                           select(rows.c.reason, func.count().label("n_rows")).group_by(rows.c.reason)))
    f = fct_incidents
    precision = select(f.c.geocode_precision, func.count().label("n_incidents")).group_by(f.c.geocode_precision)
    with wh.connect() as conn:
        out = {"batches": pd.DataFrame(conn.execute(batches).all(),
                                       columns=["source", "entity", "n_batches", "n_failed", "n_validation_passed",
                                                "rows_read", "rows_loaded", "rows_quarantined"])}
        parts = [pd.DataFrame(conn.execute(sql).all(), columns=["reason", "n_rows"]).assign(entity=entity)
                 for entity, sql in quarantine]
        out["precision"] = pd.DataFrame(conn.execute(precision).all(), columns=["geocode_precision", "n_incidents"])
    out["quarantine"] = (pd.concat(parts, ignore_index=True)[["entity", "reason", "n_rows"]] if parts
                         else pd.DataFrame(columns=["entity", "reason", "n_rows"]))
    for frame in out.values():
        for col in frame.columns:
            if col.startswith(("n_", "rows_")):
                frame[col] = pd.to_numeric(frame[col]).fillna(0).astype("int64")
    return out


def read_offense_profile(wh: Warehouse) -> pd.DataFrame:
    """Return incidents per (is_drug_offense, offense_category): n and n_arrest (the report's context)."""
    t = fct_incidents
    query = (select(t.c.is_drug_offense, t.c.offense_category, func.count().label("n"),
                    func.sum(_flag(t.c.is_arrest.is_(True))).label("n_arrest"))
             .group_by(t.c.is_drug_offense, t.c.offense_category))
    with wh.connect() as conn:
        frame = pd.DataFrame(conn.execute(query).all(),
                             columns=["is_drug_offense", "offense_category", "n", "n_arrest"])
    frame["is_drug_offense"] = frame["is_drug_offense"].astype(bool)
    for col in ("n", "n_arrest"):
        frame[col] = pd.to_numeric(frame[col]).fillna(0).astype("int64")
    return frame


def read_table(wh: Warehouse, name: str) -> pd.DataFrame:
    """Return a whole (small, derived) table from the shared metadata, e.g. trend_signals."""
    t = metadata.tables[name]
    with wh.connect() as conn:
        rows = conn.execute(select(t)).all()
    return pd.DataFrame(rows, columns=[c.name for c in t.columns])


def _flag(condition):
    return case((condition, 1), else_=0)


def _daily_frame(wh: Warehouse, query) -> pd.DataFrame:
    with wh.connect() as conn:
        rows = conn.execute(query).all()
    frame = pd.DataFrame(rows, columns=DAILY_COLUMNS)
    ids = frame["neighborhood_id"].astype(object)
    frame["neighborhood_id"] = ids.where(ids.notna(), None)
    frame["day"] = pd.to_datetime(frame["day"])
    frame["value"] = pd.to_numeric(frame["value"]).astype("float64")
    return frame

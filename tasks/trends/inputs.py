"""Inputs of the trends flow and the report: warehouse reads (SQL -> frames) and pure preparation.

Reads are SQLAlchemy Core on the shared metadata, so the same code runs on DuckDB and
PostgreSQL. Counts come straight from ``fct_incidents`` (incidents are not person-level, so no
small-cell suppression applies); admissions are aggregated inside the database and never leave
it as person rows. Period completeness is decided from the data's own first and last day.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Date, Engine, case, cast, func, select
from pandas.tseries.frequencies import to_offset

from tasks.trends.detectors import SERIES_COLUMNS, complete_calendar, details_json, period_end, trend_signals_frame
from warehouse.metadata import dim_neighborhoods, fct_incidents, load_audit, metadata

# Series grains and their pandas frequencies (weeks start on Monday, as date_trunc('week')).
GRAINS = {"day": "D", "week": "W-MON", "month": "MS"}
# Hot spot categories that are news to an analyst: a place that just became or is getting hotter.
ALERT_HOTSPOT_LEVELS = ("new_hot_spot", "consecutive_hot_spot", "intensifying_hot_spot")
DAILY_COLUMNS = ["neighborhood_id", "day", "value"]


@dataclass(frozen=True)
class Span:
    """First and last day covered by a source (both complete, inclusive)."""

    first_day: pd.Timestamp
    last_day: pd.Timestamp


# ------------------------------------------------------------------------------- reads (IO)

def read_incident_span(engine: Engine) -> Span | None:
    """Return the first and last day of ``fct_incidents`` (any offense), or None when it is empty."""
    t = fct_incidents
    with engine.connect() as conn:
        lo, hi = conn.execute(select(func.min(t.c.occurred_at), func.max(t.c.occurred_at))).one()
    if lo is None:
        return None
    # NOTE: the last file is an extract "through 2018-11-12" and that day holds 636 incidents
    # against 603-680 on each of the six days before, so the last day present counts as complete.
    return Span(pd.Timestamp(lo).normalize(), pd.Timestamp(hi).normalize())


def read_drug_incidents_daily(engine: Engine) -> pd.DataFrame:
    """Return drug-offense incidents per neighborhood and day (``DAILY_COLUMNS``; null id = not geocoded)."""
    t = fct_incidents
    day = cast(t.c.occurred_at, Date).label("day")
    query = (select(t.c.neighborhood_id, day, func.count().label("value"))
             .where(t.c.is_drug_offense).group_by(t.c.neighborhood_id, day))
    return _daily_frame(engine, query)


def read_admissions_daily(engine: Engine) -> tuple[pd.DataFrame, Span | None, bool]:
    """Return treatment admissions per neighborhood and day, their span and whether any row is synthetic.

    Only counts leave the database. Empty frame and None when there are no dated admissions.
    """
    t = metadata.tables["fct_treatment_admissions"]
    day = cast(t.c.admitted_on, Date).label("day")
    query = (select(t.c.neighborhood_id, day, func.count().label("value"))
             .where(t.c.admitted_on.is_not(None)).group_by(t.c.neighborhood_id, day))
    frame = _daily_frame(engine, query)
    if frame.empty:
        return frame, None, False
    with engine.connect() as conn:
        synthetic = conn.execute(select(func.count()).where(t.c.is_synthetic.is_(True))).scalar_one()
    return frame, Span(frame["day"].min(), frame["day"].max()), bool(synthetic)


def read_neighborhoods(engine: Engine) -> pd.DataFrame:
    """Return one row per neighborhood: neighborhood_id, name, population, geometry_wkt."""
    t = dim_neighborhoods
    with engine.connect() as conn:
        rows = conn.execute(select(t.c.neighborhood_id, t.c.name, t.c.population_2010, t.c.geometry_wkt)
                            .order_by(t.c.neighborhood_id)).all()
    frame = pd.DataFrame(rows, columns=["neighborhood_id", "name", "population", "geometry_wkt"])
    frame["neighborhood_id"] = frame["neighborhood_id"].astype("str")
    frame["population"] = pd.to_numeric(frame["population"]).astype("float64")
    return frame


def read_programs(engine: Engine) -> pd.DataFrame:
    """Return one row per program in ``dim_programs``: id, name, type, neighborhood, start, synthetic flag."""
    t = metadata.tables["dim_programs"]
    cols = ["program_id", "name", "program_type", "neighborhood_id", "started_on", "is_synthetic"]
    with engine.connect() as conn:
        rows = conn.execute(select(*(t.c[c] for c in cols)).order_by(t.c.program_id)).all()
    frame = pd.DataFrame(rows, columns=cols)
    frame["started_on"] = pd.to_datetime(frame["started_on"])
    return frame


def read_data_quality(engine: Engine) -> dict[str, pd.DataFrame]:
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
    with engine.connect() as conn:
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


def read_offense_profile(engine: Engine) -> pd.DataFrame:
    """Return incidents per (is_drug_offense, offense_category): n and n_arrest (the report's context)."""
    t = fct_incidents
    query = (select(t.c.is_drug_offense, t.c.offense_category, func.count().label("n"),
                    func.sum(_flag(t.c.is_arrest.is_(True))).label("n_arrest"))
             .group_by(t.c.is_drug_offense, t.c.offense_category))
    with engine.connect() as conn:
        frame = pd.DataFrame(conn.execute(query).all(),
                             columns=["is_drug_offense", "offense_category", "n", "n_arrest"])
    frame["is_drug_offense"] = frame["is_drug_offense"].astype(bool)
    for col in ("n", "n_arrest"):
        frame[col] = pd.to_numeric(frame[col]).fillna(0).astype("int64")
    return frame


def read_table(engine: Engine, name: str) -> pd.DataFrame:
    """Return a whole (small, derived) table from the shared metadata, e.g. trend_signals."""
    t = metadata.tables[name]
    with engine.connect() as conn:
        rows = conn.execute(select(t)).all()
    return pd.DataFrame(rows, columns=[c.name for c in t.columns])


def _flag(condition):
    return case((condition, 1), else_=0)


def _daily_frame(engine: Engine, query) -> pd.DataFrame:
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    frame = pd.DataFrame(rows, columns=DAILY_COLUMNS)
    ids = frame["neighborhood_id"].astype(object)
    frame["neighborhood_id"] = ids.where(ids.notna(), None)
    frame["day"] = pd.to_datetime(frame["day"])
    frame["value"] = pd.to_numeric(frame["value"]).astype("float64")
    return frame


# -------------------------------------------------------------------------- preparation (pure)

def period_start_of(days: pd.Series, grain: str) -> pd.Series:
    """Return the start of the ``grain`` period (day, Monday-start week, month) containing each day."""
    days = pd.to_datetime(days).dt.normalize()
    if grain == "day":
        return days
    if grain == "week":
        return days - pd.to_timedelta(days.dt.weekday, unit="D")
    if grain == "month":
        return days.dt.to_period("M").dt.to_timestamp()
    raise ValueError(f"grain must be one of {sorted(GRAINS)}")


def complete_range(span: Span, grain: str) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """Return the first and last start of the ``grain`` periods lying wholly inside ``span`` (None if none)."""
    freq = GRAINS[grain]
    off = to_offset(freq)
    first = period_start_of(pd.Series([span.first_day]), grain).iloc[0]
    if first < span.first_day:
        first = first + off
    last = period_start_of(pd.Series([span.last_day]), grain).iloc[0]
    if period_end(last, freq) > span.last_day:
        last = last - off
    return (first, last) if first <= last else None


def period_series(daily: pd.DataFrame, grain: str, span: Span, ids: Iterable[str] = ()) -> pd.DataFrame:
    """Return counts per complete period: one row per (neighborhood, period) plus citywide (null id) rows.

    Partial periods at either end of ``span`` are dropped (a half month would read as a fall).
    Neighborhoods in ``ids`` without events get zeros; the citywide series also counts events
    without a neighborhood (not geocoded). Columns ``SERIES_COLUMNS``.
    """
    window = complete_range(span, grain)
    if window is None:
        return pd.DataFrame({"neighborhood_id": pd.Series(dtype=object),
                             "period_start": pd.Series(dtype="datetime64[us]"), "value": pd.Series(dtype="float64")})
    first, last = window
    frame = daily.assign(period_start=period_start_of(daily["day"], grain))
    frame = frame[(frame["period_start"] >= first) & (frame["period_start"] <= last)]
    areas = (frame[frame["neighborhood_id"].notna()]
             .groupby(["neighborhood_id", "period_start"], as_index=False)["value"].sum())
    ids = sorted(set(ids) | set(areas["neighborhood_id"]))
    freq = GRAINS[grain]
    long = complete_calendar(areas, freq, ids=ids, start=first, end=last, where=f"{grain} series")
    city = frame.groupby("period_start", as_index=False)["value"].sum().assign(neighborhood_id=None)
    city = complete_calendar(city[SERIES_COLUMNS], freq, start=first, end=last, where=f"{grain} citywide series")
    return pd.concat([city, long], ignore_index=True)[SERIES_COLUMNS]


def split_programs(programs: pd.DataFrame, first_month: pd.Timestamp, last_month: pd.Timestamp,
                   metric: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (programs to estimate, program_impact rows for those skipped with the reason).

    Skipped: library branches (door counts stand in for attendance; a branch is not an
    intervention with a start date), programs without a neighborhood, and programs whose start
    month lies outside ``first_month``..``last_month`` of the incident series.
    """
    started = pd.to_datetime(programs["started_on"]).dt.to_period("M").dt.to_timestamp()
    reasons = pd.Series(None, index=programs.index, dtype=object)
    reasons[programs["program_type"].eq("library")] = (
        "library branch: monthly door counts are an attendance proxy, not an intervention with a start date")
    no_area = reasons.isna() & programs["neighborhood_id"].isna()
    reasons[no_area] = "program site has no neighborhood (not geocoded)"
    outside = reasons.isna() & ((started < first_month) | (started > last_month) | started.isna())
    reasons[outside] = (f"start month outside the incident series "
                        f"{first_month:%Y-%m}..{last_month:%Y-%m}")
    skipped = programs[reasons.notna()]
    rows = pd.DataFrame({
        "program_id": skipped["program_id"], "neighborhood_id": skipped["neighborhood_id"],
        "started_on": pd.to_datetime(skipped["started_on"]), "method": "not_estimated",
        "estimate": np.nan, "ci_low": np.nan, "ci_high": np.nan, "p_value": np.nan,
        "n_pre": pd.array([None] * len(skipped), dtype="Int64"),
        "n_post": pd.array([None] * len(skipped), dtype="Int64"),
        "details": [details_json({"metric": metric, "skipped": r}) for r in reasons[reasons.notna()]],
    })
    return programs[reasons.isna()].reset_index(drop=True), rows.reset_index(drop=True)


def select_alerts(signals: pd.DataFrame, previous: pd.DataFrame, last_day: pd.Timestamp,
                  window_days: int = 7) -> pd.DataFrame:
    """Return the signals worth an alert that the previous run did not already store.

    Alert-worthy: EARS alarms on periods ending in the last ``window_days`` days up to
    ``last_day``, and areas whose emerging hot spot category is new, consecutive or
    intensifying. ``previous`` holds the stored signals' keys (``read_signal_keys``), so a rerun
    on the same data alerts nothing.
    """
    recent = pd.to_datetime(signals["period_end"]) > last_day - pd.Timedelta(days=window_days)
    is_alarm = signals["method"].str.startswith("ears_") & signals["level"].eq("alarm") & recent
    is_hot = signals["method"].eq("emerging_hotspot") & signals["level"].isin(ALERT_HOTSPOT_LEVELS)
    candidates = signals[is_alarm | is_hot].copy()
    ids = candidates["neighborhood_id"].astype(object)
    candidates["neighborhood_id"] = ids.where(ids.notna(), None)  # citywide stays None, not NaN
    keys = ["neighborhood_id", "metric", "grain", "method", "period_start", "level"]
    if previous.empty:
        return candidates.reset_index(drop=True)
    seen = set(map(tuple, previous[keys].astype(object).where(previous[keys].notna(), None).to_numpy()))
    cand = candidates[keys].astype(object).where(candidates[keys].notna(), None)
    cand["period_start"] = pd.to_datetime(cand["period_start"])
    fresh = [tuple(r) not in seen for r in cand.to_numpy()]
    return candidates[fresh].reset_index(drop=True)


def drop_small_series(series: pd.DataFrame, threshold: int) -> pd.DataFrame:
    """Return the series without the areas whose total over the whole series is 1..``threshold``.

    For counts of people (admissions): trend_signals is analyst-readable, and a trend row of an
    area with 3 admissions in four years discloses a small cell. Citywide rows and all-zero
    areas are kept (zero is not a small cell).
    """
    areas = series["neighborhood_id"].notna()
    totals = series[areas].groupby("neighborhood_id")["value"].sum()
    small = set(totals[(totals > 0) & (totals <= threshold)].index)
    return series[~series["neighborhood_id"].isin(small)].reset_index(drop=True)


# Detail keys from which a person count could be recomputed (mean x periods = total).
COUNT_DETAIL_KEYS = ("mean_per_period", "pct_per_year", "intercept")


def tag_signals(signals: pd.DataFrame, grain: str, computed_at, drop: tuple[str, ...] = (), **details) -> pd.DataFrame:
    """Return detector output as trend_signals table rows: adds ``grain``, ``computed_at`` and ``details`` keys.

    Extra ``details`` (e.g. ``synthetic=True`` for generated admissions) are merged into each
    row's JSON so readers of the table (the report) can label the input; keys in ``drop`` are
    removed from it (``COUNT_DETAIL_KEYS`` for counts of people).
    """
    out = signals.assign(grain=grain, computed_at=pd.Timestamp(computed_at))
    if (details or drop) and len(out):
        out["details"] = [details_json({**{k: v for k, v in json.loads(d).items() if k not in drop}, **details})
                          for d in out["details"]]
    return out


def combine_signals(parts: list[pd.DataFrame | None]) -> pd.DataFrame:
    """Return the tagged signal frames of one run as one frame (an empty trend_signals frame if none ran)."""
    frames = [p for p in parts if p is not None and len(p)]
    if not frames:
        return trend_signals_frame([]).assign(grain=pd.Series(dtype=object),
                                              computed_at=pd.Series(dtype="datetime64[us]"))
    return pd.concat(frames, ignore_index=True)


def tag_impact(parts: list[pd.DataFrame], metric: str, computed_at) -> pd.DataFrame:
    """Return program_impact table rows from estimated and skipped parts: adds ``metric`` and ``computed_at``."""
    frames = [p for p in parts if len(p)]
    frame = (pd.concat(frames, ignore_index=True) if frames else parts[0].iloc[0:0]).copy()
    for col in ("n_pre", "n_post"):
        frame[col] = frame[col].astype("Int64")
    return frame.assign(metric=metric, computed_at=pd.Timestamp(computed_at))


def signal_counts(signals: pd.DataFrame) -> list[dict]:
    """Return rows per (metric, grain, method, level) as records sorted by those keys, with ``n``."""
    counts = signals.groupby(["metric", "grain", "method", "level"]).size().rename("n").reset_index()
    return counts.to_dict("records")

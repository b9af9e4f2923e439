"""Series for the trends flow and the report, prepared from the warehouse reads (pure functions).

Period completeness is decided from the data's own first and last day (``warehouse.reads.Span``).
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from tasks.trends.registry import Method, TrendInputs, methods
from tasks.trends.series import SERIES_COLUMNS, complete_calendar, details_json, period_end, trend_signals_frame
from warehouse.reads import Span

# Series grains and their pandas frequencies (weeks start on Monday, as date_trunc('week')).
GRAINS = {"day": "D", "week": "W-MON", "month": "MS"}


@dataclass(frozen=True)
class Metric:
    """One count series the trends flow watches.

    ``read`` names a ``warehouse.reads`` function ``(wh) -> (daily, span, is_synthetic)``: counts per
    neighborhood and day (``DAILY_COLUMNS``; null id = not placed), the source's first/last day
    (None when it holds nothing) and whether any row is synthetic. ``methods`` restricts the
    registered methods run on it (None = every one). ``people``: the counts are people, so areas
    with 1..small_cell_threshold in all are dropped and no detail lets a count be recomputed.
    ``required``: no data is an error (load it first) rather than a skipped metric.
    """

    name: str
    read: str
    methods: tuple[str, ...] | None = None
    people: bool = False
    required: bool = False


# The metrics the trends flow watches, in order; adding one is one entry (and its read function).
METRICS: tuple[Metric, ...] = (
    Metric("drug_incidents", "read_drug_incidents_counts", required=True),
    Metric("admissions", "read_admissions_daily", methods=("mann_kendall",), people=True),
    # Deaths are few per area and day: the same detectors (their minimum-count rules keep sparse areas
    # quiet); the impact estimators read program areas' deaths as a second outcome. Not ``people``:
    # the medical examiner publishes every case with its place and date, so counts per area and day
    # reveal nothing the public archive does not (the marts' demographic breakdowns are suppressed).
    Metric("overdose_deaths", "read_overdose_deaths_counts"),
)


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


def metric_methods(metric: Metric) -> tuple[Method, ...]:
    """Return the registered methods to run on ``metric`` (all of them unless it names some)."""
    return tuple(m for m in methods() if metric.methods is None or m.name in metric.methods)


def trend_inputs(metric: Metric, daily: pd.DataFrame, span: Span, neighborhoods: pd.DataFrame,
                 programs: pd.DataFrame | None, small_cell_threshold: int,
                 params: Mapping[str, Any] | None = None) -> tuple[TrendInputs, pd.DataFrame]:
    """Return (what every method of ``metric`` reads, program_impact rows of the programs not estimated).

    Series per grain (``GRAINS``) over the complete periods of ``span``. Programs (when any impact
    method runs on the metric) are split by ``split_programs`` against the monthly series; the
    skipped ones get their ``not_estimated`` row here, tagged later with the metric.
    """
    # Counts of people keep only the areas that have some (as before: no zero rows for them).
    ids = [] if metric.people else neighborhoods["neighborhood_id"].tolist()
    series = {grain: period_series(daily, grain, span, ids) for grain in GRAINS}
    if metric.people:
        series = {g: drop_small_series(s, small_cell_threshold) for g, s in series.items()}
    eligible, skipped = None, _no_programs()
    months = series["month"]["period_start"]
    wants_impact = any(m.kind == "impact" for m in metric_methods(metric))
    if wants_impact and programs is not None and len(programs):
        if months.empty:
            eligible = programs.iloc[0:0]
            skipped = split_programs(programs, pd.Timestamp.max, pd.Timestamp.min, metric.name)[1]
            skipped["details"] = [details_json({"metric": metric.name, "skipped": "no complete month of data"})
                                  for _ in range(len(skipped))]
        else:
            eligible, skipped = split_programs(programs, months.min(), months.max(), metric.name)
    inputs = TrendInputs(metric=metric.name, series=series, neighborhoods=neighborhoods, programs=eligible,
                         params=dict(params or {}))
    return inputs, skipped


def _no_programs() -> pd.DataFrame:
    from schemas.trend_results import PROGRAM_IMPACT_COLUMNS

    return pd.DataFrame(columns=PROGRAM_IMPACT_COLUMNS)


def last_period_ends(inputs: TrendInputs) -> dict[str, pd.Timestamp]:
    """Return the last day (inclusive) of each grain's series, for an episode's ``is_ongoing``."""
    out = {}
    for grain, frame in inputs.series.items():
        if len(frame):
            out[grain] = period_end(pd.Timestamp(frame["period_start"].max()), GRAINS[grain])
    return out

"""Series for the trends flow and the report, prepared from the warehouse reads (pure functions).

Period completeness is decided from the data's own first and last day (``warehouse.reads.Span``).
"""
from __future__ import annotations

import json
from collections.abc import Iterable

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from tasks.trends.series import SERIES_COLUMNS, complete_calendar, details_json, period_end, trend_signals_frame
from warehouse.reads import Span

# Series grains and their pandas frequencies (weeks start on Monday, as date_trunc('week')).
GRAINS = {"day": "D", "week": "W-MON", "month": "MS"}
# Hot spot categories that are news to an analyst: a place that just became or is getting hotter.
ALERT_HOTSPOT_LEVELS = ("new_hot_spot", "consecutive_hot_spot", "intensifying_hot_spot")


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

"""Count series and the trend_signals contract: calendars, (period x series) matrices, JSON details.

A series frame is long: ``neighborhood_id`` (str; None = citywide), ``period_start`` (Timestamp at
the start of a day / Monday-start week / month) and ``value`` (a count). Within a period the
source covered, an absent (neighborhood, period) row is a zero count: no incident was recorded.
A period the source did not cover at all (a gap in the feed) is *missing*: ``wide_series`` with
``covered`` gives it NaN in every series, so no method reads a gap as a fall.
Every method returns rows with ``TREND_SIGNAL_COLUMNS`` (``trend_signals_frame``).
"""
from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from schemas.errors import InputError
from schemas.trend_results import TREND_SIGNAL_COLUMNS

SERIES_COLUMNS = ["neighborhood_id", "period_start", "value"]
# Series grains and their pandas frequencies (weeks start on Monday, as date_trunc('week')).
GRAIN_FREQ = {"day": "D", "week": "W-MON", "month": "MS"}
CITYWIDE_KEY = "\x00citywide"  # internal column label of the citywide series; never a real id

_DAYS_PER_YEAR = 365.2425


def details_json(values: Mapping[str, Any]) -> str:
    """Return ``values`` as a JSON object string; NaN/inf become null, numpy scalars plain numbers."""

    def clean(v: Any) -> Any:
        if isinstance(v, Mapping):
            return {str(k): clean(x) for k, x in v.items()}
        if isinstance(v, (list, tuple, np.ndarray)):
            return [clean(x) for x in v]
        if isinstance(v, (pd.Timestamp, np.datetime64)):
            return pd.Timestamp(v).date().isoformat()
        if isinstance(v, (np.bool_, bool)):
            return bool(v)
        if isinstance(v, (np.integer, int)):
            return int(v)
        if isinstance(v, (np.floating, float)):
            return float(v) if math.isfinite(v) else None
        return v

    return json.dumps(clean(values), allow_nan=False, sort_keys=True)


def periods_per_year(freq: str) -> float:
    """Return how many periods of pandas frequency ``freq`` fit in a year (12 for 'MS', 365.2425 for 'D')."""
    off = to_offset(freq)
    name = type(off).__name__
    if name in ("MonthBegin", "MonthEnd"):
        return 12.0 / off.n
    if name in ("QuarterBegin", "QuarterEnd"):
        return 4.0 / off.n
    if name in ("YearBegin", "YearEnd"):
        return 1.0 / off.n
    if name == "Week":
        return _DAYS_PER_YEAR / 7.0 / off.n
    if name == "Day":
        return _DAYS_PER_YEAR / off.n
    raise ValueError(f"unsupported frequency {freq!r}: use D, W-<DAY>, MS, QS or YS")


def period_end(period_start: pd.Series | pd.DatetimeIndex | pd.Timestamp, freq: str):
    """Return the last day (inclusive, midnight) of the periods starting at ``period_start``."""
    return period_start + to_offset(freq) - pd.Timedelta(days=1)


def complete_calendar(
    series: pd.DataFrame,
    freq: str,
    *,
    ids: Iterable[str] | None = None,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
    where: str = "series",
) -> pd.DataFrame:
    """Return one row per (neighborhood_id, period_start) over the shared calendar, absent periods = 0.

    The calendar runs from ``start`` (default: first period in the frame) to ``end`` (default: last).
    ``ids`` adds neighborhoods that have no rows at all (they get zeros). Citywide rows keep a null
    ``neighborhood_id``. Raises InputError on missing columns, ids that are not strings, periods not
    at a ``freq`` boundary, duplicate keys, and null or negative values.
    """
    wide = complete_wide(series, freq, ids=ids, start=start, end=end, where=where)
    long = wide.melt(ignore_index=False, value_name="value").reset_index()
    long["neighborhood_id"] = long["neighborhood_id"].astype("object").replace({CITYWIDE_KEY: None})
    return long[SERIES_COLUMNS].reset_index(drop=True)


def wide_series(series: pd.DataFrame, freq: str, *, covered: pd.DatetimeIndex | None = None,
                add_citywide: bool = True, where: str = "series") -> pd.DataFrame:
    """Return the series as a (period x series) frame: zeros where a covered period has no row, NaN
    in every column for periods outside ``covered`` (None = every period is covered).

    With ``add_citywide`` and no citywide rows in the input, the citywide column (``CITYWIDE_KEY``)
    is the sum of the neighborhoods.
    """
    wide = complete_wide(series, freq, where=where)
    if add_citywide and CITYWIDE_KEY not in wide.columns:
        wide[CITYWIDE_KEY] = wide.sum(axis=1)
    if covered is not None:
        gaps = ~wide.index.isin(pd.DatetimeIndex(covered))
        wide.loc[gaps, :] = np.nan
    return wide


def complete_wide(series, freq, *, ids=None, start=None, end=None, where="series") -> pd.DataFrame:
    """Return a (period x neighborhood) frame over the full calendar, zeros where a period is absent."""
    frame = _checked(series, where)
    first = frame["period_start"].min() if start is None else pd.Timestamp(start)
    last = frame["period_start"].max() if end is None else pd.Timestamp(end)
    if pd.isna(first) or pd.isna(last):
        raise InputError(where, "has no rows and no start/end to build a calendar",
                         "Pass a non-empty series or give start and end")
    calendar = pd.date_range(first, last, freq=freq)
    if len(calendar) == 0 or calendar[0] != first or first != first.normalize():
        raise InputError(where, f"calendar start {first} is not the start of a {freq!r} period",
                         f"Aggregate to {freq!r} period starts first")
    bad = ~frame["period_start"].isin(calendar)
    if bad.any():
        row = frame.index[bad.to_numpy()][0]
        raise InputError(f"{where} row {row}", f"period_start {frame.at[row, 'period_start']} is not a "
                         f"{freq!r} period start between {first.date()} and {last.date()}",
                         f"Aggregate to {freq!r} period starts, or widen start/end")
    keys = frame["neighborhood_id"].fillna(CITYWIDE_KEY)
    columns = sorted(set(keys) | set(ids or []), key=id_order)
    wide = (
        frame.assign(neighborhood_id=keys)
        .pivot(index="period_start", columns="neighborhood_id", values="value")
        .reindex(index=calendar, columns=columns)
        .fillna(0.0)
    )
    wide.index.name = "period_start"
    wide.columns.name = "neighborhood_id"
    return wide


def id_order(key: str) -> tuple:
    """Sort key: citywide first, then numeric ids by number ('2' before '10'), then other ids."""
    if key == CITYWIDE_KEY:
        return (0, 0.0, "")
    try:
        return (1, float(key), key)
    except ValueError:
        return (2, 0.0, key)


def public_id(key: str) -> str | None:
    """Return the neighborhood id of a wide column (None for the citywide column)."""
    return None if key == CITYWIDE_KEY else key


def trend_signals_frame(rows) -> pd.DataFrame:
    """Return ``rows`` (records or a frame) as a trend_signals frame with the contract's columns/dtypes."""
    frame = pd.DataFrame(rows, columns=TREND_SIGNAL_COLUMNS)
    ids = frame["neighborhood_id"].astype("object")
    frame["neighborhood_id"] = ids.where(ids.notna(), None)
    frame["period_start"] = pd.to_datetime(frame["period_start"])
    frame["period_end"] = pd.to_datetime(frame["period_end"])
    for col in ("statistic", "p_value", "score"):
        frame[col] = frame[col].astype(float)
    return frame.reset_index(drop=True)


def _checked(series: pd.DataFrame, where: str) -> pd.DataFrame:
    """Return a copy of ``series`` with typed columns, or raise InputError naming the first bad row."""
    missing = [c for c in SERIES_COLUMNS if c not in series.columns]
    if missing:
        raise InputError(where, f"missing column(s) {', '.join(missing)}",
                         "Pass a long frame with neighborhood_id, period_start, value")
    frame = series[SERIES_COLUMNS].copy()
    ids = frame["neighborhood_id"]
    not_str = ids.notna() & ~ids.map(lambda v: isinstance(v, str))
    if not_str.any():
        row = frame.index[not_str.to_numpy()][0]
        raise InputError(f"{where} row {row}", f"neighborhood_id {ids[row]!r} is not a string",
                         "Cast neighborhood ids to str upstream")
    frame["neighborhood_id"] = ids.astype("object").where(ids.notna(), None)
    try:
        frame["period_start"] = pd.to_datetime(frame["period_start"])
    except (ValueError, TypeError) as err:
        raise InputError(where, f"period_start is not a date ({err})", "Pass Timestamps") from None
    values = pd.to_numeric(frame["value"], errors="coerce")
    for label, mask in (("period_start is null", frame["period_start"].isna()),
                        ("value is null or not a number", values.isna()),
                        ("value is negative", values < 0)):
        if mask.any():
            row = frame.index[mask.to_numpy()][0]
            raise InputError(f"{where} row {row}", label, "Fix the upstream aggregation (absent periods may "
                             "simply be left out; they count as zero; uncovered periods go in `covered`)")
    frame["value"] = values.astype(float)
    dup = frame.duplicated(["neighborhood_id", "period_start"], keep="first")
    if dup.any():
        row = frame.index[dup.to_numpy()][0]
        raise InputError(f"{where} row {row}", f"duplicate (neighborhood_id, period_start) = "
                         f"({frame.at[row, 'neighborhood_id']}, {frame.at[row, 'period_start']})",
                         "Aggregate to one row per neighborhood and period")
    return frame

"""CDC EARS C1/C2/C3 spike statistics, kept as the reference detector (it matches the CDC definitions).

C1 = (x_t - mean(x_{t-7..t-1})) / sd; C2 the same with baseline x_{t-9..t-3} (a 2-period guard
band); C3 = sum over t, t-1, t-2 of max(0, C2 - 1). Alarms: C1 > 3, C2 > 3, C3 > 2. Periods
outside the source's coverage are NaN: a baseline touching a gap gives no statistic.
The registry runs all three as one method ``ears`` so one alert episode covers C1, C2 and C3.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from tasks.trends.registry import Method, TrendInputs, level_is_alarm
from tasks.trends.series import GRAIN_FREQ, period_end, public_id, trend_signals_frame, wide_series

# CDC EARS: C1 uses the 7 periods before t; C2 and C3 the 7 periods before a 2-period guard band.
EARS_BASELINE = 7
EARS_GUARD = 2
EARS_THRESHOLDS = {"ears_c1": 3.0, "ears_c2": 3.0, "ears_c3": 2.0}


def ears(
    series: pd.DataFrame,
    metric: str,
    freq: str = "D",
    sd_floor: float = 1.0,
    poisson_floor: bool = True,
    alarms_only: bool = True,
    add_citywide: bool = True,
    covered: pd.DatetimeIndex | None = None,
) -> pd.DataFrame:
    """Return trend_signals rows per (neighborhood, period, EARS method): C1, C2, C3 spike statistics.

    ``sd`` is the sample standard deviation (ddof=1) of the 7 baseline values raised to
    ``max(sd, sd_floor, sqrt(mean))`` (the square-root term only with ``poisson_floor``) so a
    sparse series does not alarm on one event. Periods without a full baseline produce no row.
    ``score`` is statistic - threshold. With ``alarms_only`` (default) only alarming rows are returned.
    """
    if not sd_floor > 0:
        raise ValueError("sd_floor must be > 0 so every statistic is finite")
    wide = wide_series(series, freq, covered=covered, add_citywide=add_citywide, where="ears series")
    x = wide.to_numpy(dtype=float)
    keys = np.array([public_id(k) for k in wide.columns], dtype=object)
    starts = wide.index
    dates = np.asarray(starts.strftime("%Y-%m-%d"), dtype=object)
    grid = _Grid(metric, keys, starts, period_end(starts, freq), dates)
    stats = ears_statistics(x, sd_floor, poisson_floor)
    out = []
    for method, lag in (("ears_c1", 1), ("ears_c2", 1 + EARS_GUARD)):
        mean, sd, used = stats[f"{method}_parts"]
        first = EARS_BASELINE + lag - 1
        out.append(grid.rows(method, stats[method], alarms_only, {
            "value": x, "baseline_mean": mean, "baseline_sd": sd, "sd_used": used, "excess": x - mean,
            "baseline_start": _shifted(dates, first), "baseline_end": _shifted(dates, lag)}))
    lagged = stats["c2_lagged"]
    out.append(grid.rows("ears_c3", stats["ears_c3"], alarms_only, {
        "value": x, "c2_t": lagged[0], "c2_t_minus_1": lagged[1], "c2_t_minus_2": lagged[2]}))
    return trend_signals_frame(pd.concat(out, ignore_index=True))


def ears_statistics(x: np.ndarray, sd_floor: float = 1.0, poisson_floor: bool = True) -> dict[str, np.ndarray]:
    """Return the C1, C2, C3 matrices (periods x series; NaN where no full baseline) for counts ``x``.

    Also ``<c>_parts`` = (baseline mean, sample sd, floored sd) and ``c2_lagged`` (C2 at t, t-1, t-2).
    Vectorised over series, so the alarm bench can score thousands of injected segments at once.
    """
    out: dict[str, np.ndarray] = {}
    for method, lag in (("ears_c1", 1), ("ears_c2", 1 + EARS_GUARD)):
        mean, sd, used = _baseline(x, lag, sd_floor, poisson_floor)
        out[method] = (x - mean) / used
        out[f"{method}_parts"] = (mean, sd, used)
    c2 = out["ears_c2"]
    lagged = np.full((3, *c2.shape), np.nan)  # C2 at t, t-1, t-2
    for k in range(3):
        lagged[k, k:] = c2[: len(c2) - k]
    c3 = np.clip(lagged - 1.0, 0.0, None).sum(axis=0)
    c3[np.isnan(lagged).any(axis=0)] = np.nan
    out["ears_c3"], out["c2_lagged"] = c3, lagged
    return out


def _baseline(x: np.ndarray, lag: int, sd_floor: float, poisson_floor: bool):
    """Return (mean, sample sd, floored sd) of the 7 values ending ``lag`` periods before each t."""
    t_len, n_series = x.shape
    mean = np.full((t_len, n_series), np.nan)
    sd = np.full((t_len, n_series), np.nan)
    first = EARS_BASELINE + lag - 1  # first t whose baseline is complete
    if t_len > first:
        windows = np.lib.stride_tricks.sliding_window_view(x, EARS_BASELINE, axis=0)  # (t_len-6, S, 7)
        # Window k covers x[k..k+6]; the baseline of t ends at t-lag, so it is window t-first.
        w = windows[: t_len - first]
        mean[first:] = w.mean(axis=-1)
        sd[first:] = w.std(axis=-1, ddof=1)
    used = np.maximum(sd, sd_floor)
    if poisson_floor:
        used = np.maximum(used, np.sqrt(np.clip(mean, 0.0, None)))
    return mean, sd, used


def _shifted(dates: np.ndarray, k: int) -> np.ndarray:
    """Return ``dates`` shifted k places later (entry t holds dates[t - k]; None before k)."""
    out = np.full(len(dates), None, dtype=object)
    if len(dates) > k:
        out[k:] = dates[: len(dates) - k]
    return out


class _Grid:
    """The (period x series) frame of one EARS run; turns statistic matrices into trend_signals rows."""

    def __init__(self, metric, keys, starts, ends, dates):
        self.metric, self.keys, self.starts, self.ends, self.dates = metric, keys, starts, ends, dates

    def rows(self, method: str, stat: np.ndarray, alarms_only: bool, detail: dict) -> pd.DataFrame:
        threshold = EARS_THRESHOLDS[method]
        valid = ~np.isnan(stat)
        alarm = valid & (stat > threshold)
        t_idx, s_idx = np.nonzero(alarm if alarms_only else valid)
        # One vectorised to_json call: per-row json.dumps is ~20x slower on 1,400 days x 78 series.
        cols = {k: (v[t_idx, s_idx] if v.ndim == 2 else v[t_idx]) for k, v in detail.items()}
        cols["threshold"] = np.full(len(t_idx), threshold)
        details = pd.DataFrame(cols)[sorted(cols)]
        lines = details.to_json(orient="records", lines=True, double_precision=10).splitlines() if len(t_idx) else []
        return pd.DataFrame({
            "neighborhood_id": self.keys[s_idx],
            "metric": self.metric,
            "period_start": self.starts[t_idx],
            "period_end": self.ends[t_idx],
            "method": method,
            "statistic": stat[t_idx, s_idx],
            "p_value": np.nan,
            "score": stat[t_idx, s_idx] - threshold,
            "level": np.where(alarm[t_idx, s_idx], "alarm", "none"),
            "details": lines,
        })


def _run(inputs: TrendInputs, grain: str) -> pd.DataFrame:
    return ears(inputs.series[grain], inputs.metric, GRAIN_FREQ[grain], covered=inputs.covered.get(grain))


METHODS = (
    Method("ears", "spike", ("day", "week"),
           "CDC EARS C1/C2/C3: today against the mean and sd of the previous 7 periods (C2/C3 after a "
           "2-period guard band); the reference detector, not budget-calibrated", _run,
           is_alarm=level_is_alarm, outputs=("ears_c1", "ears_c2", "ears_c3"),
           reference="Hutwagner et al. 2003; CDC EARS"),
)

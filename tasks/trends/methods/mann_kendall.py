"""Sustained trends: Mann-Kendall test with Sen's slope, one row per series; gaps are missing, not zero.

Monthly series with ``seasonal=True`` and at least two years use the seasonal test (Hirsch-Slack,
period 12); other series the original test. Periods outside ``covered`` (a gap in the source) are
NaN: pymannkendall drops them from the S statistic (which depends only on the order of the
observed values) and keeps their positions in Sen's slope (pairwise differences divided by the
true time gap), so a gap neither reads as a fall nor shortens the time axis.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pymannkendall as mk

from schemas.errors import InputError
from tasks.trends.registry import Method, TrendInputs
from tasks.trends.series import (
    GRAIN_FREQ, details_json, period_end, periods_per_year, public_id, trend_signals_frame, wide_series,
)

MIN_OBSERVED = 4


def mann_kendall_trends(
    series: pd.DataFrame,
    metric: str,
    freq: str = "MS",
    seasonal: bool = True,
    alpha: float = 0.05,
    add_citywide: bool = True,
    covered: pd.DatetimeIndex | None = None,
) -> pd.DataFrame:
    """Return one trend_signals row per neighborhood (and citywide): Mann-Kendall test + Sen's slope.

    ``statistic`` is the MK z, ``p_value`` its two-sided p, ``score`` Sen's slope in the metric's
    units per year, ``level`` increasing / decreasing / no_trend at ``alpha``. ``covered`` lists
    the periods the source covered (None = all); the others are missing. With ``add_citywide`` and
    no citywide rows in the input, the citywide series is the sum of the neighborhoods.
    """
    wide = wide_series(series, freq, covered=covered, add_citywide=add_citywide, where="mann_kendall_trends series")
    n = len(wide)
    observed = int(wide.iloc[:, 0].notna().sum()) if wide.shape[1] else 0
    if observed < MIN_OBSERVED:
        raise InputError("mann_kendall_trends series", f"covers {observed} observed periods; Mann-Kendall "
                         f"needs at least {MIN_OBSERVED}", "Pass a longer series")
    per_year = periods_per_year(freq)
    use_seasonal = seasonal and per_year == 12.0 and n >= 24
    method = "seasonal_mann_kendall" if use_seasonal else "mann_kendall"
    # NOTE: pymannkendall's seasonal Sen slope takes differences between the same month of
    # different years divided by the year gap (seasonal_sens_slope), so it is already per year;
    # the original test's slope is per period and is scaled by periods per year.
    slope_to_year = 1.0 if use_seasonal else per_year
    start, end = wide.index[0], period_end(wide.index[-1], freq)
    rows = []
    for key in wide.columns:
        x = wide[key].to_numpy(dtype=float)
        res = mk.seasonal_test(x, period=12, alpha=alpha) if use_seasonal else mk.original_test(x, alpha=alpha)
        slope_year = float(res.slope) * slope_to_year
        mean = float(np.nanmean(x))
        rows.append({
            "neighborhood_id": public_id(key), "metric": metric, "period_start": start, "period_end": end,
            "method": method, "statistic": float(res.z), "p_value": float(res.p), "score": slope_year,
            "level": res.trend.replace(" ", "_"),
            "details": details_json({
                "slope_per_year": slope_year,
                "slope_per_period": slope_year / per_year,
                "pct_per_year": 100.0 * slope_year / mean if mean > 0 else None,
                "mean_per_period": mean,
                "tau": res.Tau, "s": res.s, "var_s": res.var_s,
                "intercept": res.intercept, "n_periods": n, "n_missing": int(n - np.isfinite(x).sum()),
                "freq": freq, "seasonal_period": 12 if use_seasonal else None, "alpha": alpha,
            }),
        })
    return trend_signals_frame(rows)


def _run(inputs: TrendInputs, grain: str) -> pd.DataFrame:
    return mann_kendall_trends(inputs.series[grain], inputs.metric, GRAIN_FREQ[grain],
                               alpha=float(inputs.params.get("trend_alpha", 0.05)),
                               covered=inputs.covered.get(grain))


METHODS = (
    Method("mann_kendall", "trend", ("month",),
           "Mann-Kendall test with Sen's slope per year (seasonal test on 2+ years of months); periods a "
           "source did not cover are missing, not zero", _run,
           outputs=("seasonal_mann_kendall", "mann_kendall"), headline=True),
)

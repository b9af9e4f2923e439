"""Sparse areas pooled into regions of adjacent areas, watched with the headline regression detector.

Areas with fewer than 0.2 events a day over the last year (``sparse_below``) are grouped into
contiguous regions of at least ``region_min_rate`` events a day (``tasks.trends.regions``), and
each region's summed series runs through the same quasi-Poisson baseline, spike test, CUSUM,
minimum-count rule, alarm budget and FDR as single areas. Rows carry the region key
(``R:<id>+<id>``) as neighborhood_id and the member ids in ``details.area_ids``.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from tasks.trends.budget import DAYS_PER_PERIOD
from tasks.trends.methods.glm_baseline import glm_baseline
from tasks.trends.regions import pooled_regions, recent_rates, region_series
from tasks.trends.registry import Method, TrendInputs, level_is_alarm
from tasks.trends.series import CITYWIDE_KEY, GRAIN_FREQ, trend_signals_frame, wide_series

POOL_DEFAULTS = {"sparse_below": 0.2, "region_min_rate": 0.2}
RATE_DAYS = 365  # the "recent" rate that decides who is sparse


def sparse_regions(wide: pd.DataFrame, neighborhoods: pd.DataFrame, grain: str,
                   params: Mapping[str, Any] | None = None) -> dict[str, list[str]]:
    """Return the pooling regions {key: member ids} for the area columns of ``wide`` (periods x areas)."""
    p = {**POOL_DEFAULTS, **(params or {})}
    areas = wide.drop(columns=[CITYWIDE_KEY], errors="ignore")
    per = DAYS_PER_PERIOD[grain]
    rates = recent_rates(areas, max(1, RATE_DAYS // per), per)
    hoods = neighborhoods[neighborhoods["neighborhood_id"].astype(str).isin(areas.columns)]
    return pooled_regions(hoods, rates, float(p["sparse_below"]), float(p["region_min_rate"]))


def glm_pooled(series: pd.DataFrame, neighborhoods: pd.DataFrame, metric: str, grain: str = "day",
               params: Mapping[str, Any] | None = None, covered: pd.DatetimeIndex | None = None) -> pd.DataFrame:
    """Return trend_signals alarm rows (``glm_pooled_spike`` / ``glm_pooled_cusum``) per pooled region."""
    wide = wide_series(series, GRAIN_FREQ[grain], covered=covered, add_citywide=False, where="glm_pooled series")
    regions = sparse_regions(wide, neighborhoods, grain, params)
    if not regions:
        return trend_signals_frame([])
    pooled = region_series(wide, regions)
    long = pooled.melt(ignore_index=False, var_name="neighborhood_id", value_name="value").reset_index()
    long = long.dropna(subset=["value"])
    return glm_baseline(long, metric, grain, params, covered=covered, add_citywide=False,
                        names=("glm_pooled_spike", "glm_pooled_cusum"), members=regions)


def _run(inputs: TrendInputs, grain: str) -> pd.DataFrame:
    return glm_pooled(inputs.series[grain], inputs.neighborhoods, inputs.metric, grain, inputs.params,
                      inputs.covered.get(grain))


METHODS = (
    Method("glm_pooled", "spike", ("day", "week"),
           "The regression detector on regions of adjacent sparse areas (< 0.2 events/day), built from the "
           "boundary polygons; same budget, minimum count and FDR as single areas", _run,
           is_alarm=level_is_alarm, headline=True, outputs=("glm_pooled_spike", "glm_pooled_cusum"),
           reference="Noufaily et al. 2013 on queen-contiguous pooled regions"),
)

"""Registry entry ``stp_scan``: the prospective space-time permutation scan on the daily series.

One run analyses the last ``study_days`` (365) days ending on the series' last day and returns
one trend_signals row per reported cluster (the most likely, then secondary clusters sharing no
area with a better one): ``neighborhood_id`` is the cluster's centre area, ``period_start`` /
``period_end`` the cluster's first and last day, ``statistic`` its LLR, ``p_value`` the Monte
Carlo p, ``score`` observed / expected, ``level`` 'alarm' when the recurrence interval reaches
``alarm_recurrence_days`` (default 365: p <= 1/365) and 'cluster' otherwise. ``details`` holds the
cluster id, the member area ids (for the map) and every number. One row = one cluster = one alert.
Engine and formulas: ``tasks.trends.scan``; choices: /work/notes/scan_methods.md.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely import from_wkt

from schemas.errors import ConfigError, InputError
from tasks.trends.series import details_json, trend_signals_frame
from tasks.trends.registry import Method, TrendInputs
from tasks.trends.scan import ScanSettings, polygon_design, scan_clusters

METHOD = "stp_scan"
MIN_STUDY_DAYS = 28


@dataclass(frozen=True)
class ScanConfig:
    """Everything a run needs beside the data; ``params["stp_scan"]`` overrides any field."""

    study_days: int = 365
    max_days: int = 14
    min_days: int = 1
    permutations: int = 999
    seed: int = 12345
    min_cases: int = 2
    max_clusters: int = 10
    report_p: float = 0.5
    max_areas: int = 10
    max_area_share: float = 0.5
    max_population_share: float | None = None
    alarm_recurrence_days: float = 365.0

    @classmethod
    def parse(cls, value: Mapping[str, Any] | None) -> ScanConfig:
        value = dict(value or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(value) - known)
        if unknown:
            raise ConfigError("stp_scan", f"unknown key(s) {', '.join(unknown)}", f"Use {', '.join(sorted(known))}")
        config = cls(**value)
        if config.permutations + 1 < config.alarm_recurrence_days:
            raise ConfigError("stp_scan", f"{config.permutations} permutations cannot reach a recurrence interval "
                              f"of {config.alarm_recurrence_days:g} days (smallest p = 1/(R+1))",
                              "Use permutations >= alarm_recurrence_days - 1, e.g. 999")
        return config

    def settings(self) -> ScanSettings:
        keep = {f.name for f in fields(ScanSettings)}
        return ScanSettings(**{k: v for k, v in asdict(self).items() if k in keep})


def run_stp_scan(inputs: TrendInputs, grain: str = "day") -> pd.DataFrame:
    """Return trend_signals rows, one per reported cluster, for the study window ending on the last day."""
    if grain != "day":
        raise InputError("stp_scan", f"runs on the daily series, not {grain!r}", "Run it with grain 'day'")
    config = ScanConfig.parse(inputs.params.get(METHOD))
    hoods = inputs.neighborhoods
    if "geometry_wkt" not in hoods.columns or hoods["geometry_wkt"].isna().any():
        raise InputError("neighborhoods", "geometry_wkt is missing", "Load the neighborhood polygons first")
    gdf = gpd.GeoDataFrame({"neighborhood_id": hoods["neighborhood_id"].astype("str")},
                           geometry=from_wkt(hoods["geometry_wkt"].to_numpy()), crs="EPSG:4326")
    population = pd.to_numeric(hoods["population"], errors="coerce").to_numpy() if "population" in hoods else None
    design = polygon_design(gdf, "neighborhood_id", inputs.params.get("weights"), max_areas=config.max_areas,
                            max_area_share=config.max_area_share, population=population,
                            max_population_share=config.max_population_share)
    counts, days = daily_matrix(inputs.series["day"], list(design.area_ids), config.study_days)
    if len(days) < MIN_STUDY_DAYS:
        raise InputError("stp_scan", f"the daily series covers {len(days)} days", f"It needs at least {MIN_STUDY_DAYS}")
    settings = config.settings()
    clusters = scan_clusters(counts, design, settings)
    return cluster_signals(clusters, days, inputs.metric, config, design.rule, int(counts.sum()))


def daily_matrix(series: pd.DataFrame, area_ids: list[str], study_days: int) -> tuple[np.ndarray, pd.DatetimeIndex]:
    """Return the (areas x days) counts of the last ``study_days`` days and those days.

    Citywide rows (null id) are not areas and are dropped; days or areas without rows are zeros.
    NOTE: a day no source covered reads as zero, which the permutation model absorbs: a day total
    of zero gives every cylinder on that day mu = 0 and c = 0, so the gap can raise no cluster.
    """
    areas = series[series["neighborhood_id"].notna()]
    unknown = ~areas["neighborhood_id"].astype("str").isin(area_ids)
    if unknown.any():
        bad = areas.loc[unknown, "neighborhood_id"].iloc[0]
        raise InputError("daily series", f"neighborhood_id {bad!r} is not one of the neighborhood polygons",
                         "Fix the id or pass the matching polygons")
    if areas.empty:
        return np.zeros((len(area_ids), 0)), pd.DatetimeIndex([])
    last = pd.Timestamp(series["period_start"].max()).normalize()
    days = pd.date_range(max(pd.Timestamp(series["period_start"].min()).normalize(),
                             last - pd.Timedelta(days=study_days - 1)), last, freq="D")
    wide = (areas.assign(neighborhood_id=areas["neighborhood_id"].astype("str"))
            .pivot_table(index="neighborhood_id", columns="period_start", values="value", aggfunc="sum")
            .reindex(index=area_ids, columns=days).fillna(0.0))
    return wide.to_numpy(dtype=float), days


def cluster_signals(clusters: pd.DataFrame, days: pd.DatetimeIndex, metric: str, config: ScanConfig,
                    window_rule: str, study_cases: int) -> pd.DataFrame:
    """Return one trend_signals row per cluster of ``scan_clusters`` (start/end = positions in ``days``)."""
    rows = []
    end_day = days[-1] if len(days) else None
    for c in clusters.itertuples(index=False):
        start, end = days[c.start], days[c.end]
        alarm = c.recurrence_interval >= config.alarm_recurrence_days
        cluster_id = f"{METHOD}:{metric}:{end_day:%Y-%m-%d}:{c.rank}"
        rows.append({
            "neighborhood_id": c.centre_id, "metric": metric, "period_start": start, "period_end": end,
            "method": METHOD, "statistic": c.llr, "p_value": c.p_value, "score": c.relative_risk,
            "level": "alarm" if alarm else "cluster",
            "details": details_json({
                "cluster_id": cluster_id, "rank": c.rank, "kind": "most_likely" if c.rank == 1 else "secondary",
                "centre_id": c.centre_id, "member_ids": list(c.member_ids), "n_areas": c.n_areas,
                "start": start, "end": end, "n_days": c.n_days, "observed": c.observed, "expected": c.expected,
                "relative_risk": c.relative_risk, "llr": c.llr, "p_value": c.p_value, "p_gumbel": c.p_gumbel,
                "recurrence_interval_days": c.recurrence_interval, "is_alarm": alarm,
                "alarm_rule": f"recurrence_interval >= {config.alarm_recurrence_days:g} days",
                "permutations": config.permutations, "seed": config.seed, "study_start": days[0],
                "study_end": end_day, "study_days": len(days), "study_cases": study_cases,
                "max_days": ScanSettings(max_days=config.max_days).window(len(days)), "window_rule": window_rule,
                "secondary_rule": "no geographical overlap with a more likely cluster",
            }),
        })
    return trend_signals_frame(rows)


def is_alarm(rows: pd.DataFrame) -> pd.Series:
    """True for clusters whose recurrence interval reached the run's alarm rule (decided at run time)."""
    return rows["level"].eq("alarm")


METHODS = (
    Method(
        name=METHOD,
        kind="cluster",
        grains=("day",),
        description=("Prospective space-time permutation scan (Kulldorff 2005): emerging clusters of adjacent "
                     "areas over the last 1-14 days against the last 365; alarm when the recurrence interval "
                     ">= 365 days"),
        run=run_stp_scan,
        is_alarm=is_alarm,
        headline=True,
    ),
)

"""Time and calibrate the prospective space-time permutation scan on the real daily drug-offense series.

Reads ``fct_incidents`` (drug offenses per community area and day) and ``dim_neighborhoods``
from a DuckDB warehouse opened read-only (default: the baseline build), then prints:

1. timings: building the zones, one prospective run (999 permutations + the observed scan) on the
   last 365 days, and one run that reuses precomputed null maxima (what a benchmark repeats);
2. how much the null maxima drift between end days 1, 7 and 28 days apart (why reuse per block is safe);
3. reuse accuracy: on injected 14-day +100% outbreaks, the p-value against the injected window's
   own null vs against the un-injected window's null (the reuse ``ProspectiveScan`` does);
4. null calibration: the real last-365-day window with its cases' days permuted, each scanned
   with its own 999 permutations: the share of runs with p < 0.05 and with a recurrence interval
   >= 365 days (should be ~0.05 and ~0.003);
5. real-data alarm rate without injections: prospective runs every 7th end day over two years.

    python -m bench.scan [--warehouse /work/baseline/pulse.duckdb] [--runs 100] [--injections 100]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely import from_wkt
from sqlalchemy import create_engine

from tasks.trends.inputs import read_drug_incidents_daily, read_neighborhoods
from tasks.trends.scan import ProspectiveScan, ScanSettings, null_max_llr, polygon_design, scan_clusters

RI_DAYS = 365.0
STUDY_DAYS = 365


def read_real(warehouse: Path):
    """Return (counts areas x days, days, polygons) from the warehouse, read-only."""
    engine = create_engine(f"duckdb:///{warehouse}", connect_args={"read_only": True})
    try:
        daily, hoods = read_drug_incidents_daily(engine), read_neighborhoods(engine)
    finally:
        engine.dispose()
    ids = sorted(hoods["neighborhood_id"], key=lambda i: (len(i), i))
    hoods = hoods.set_index("neighborhood_id").loc[ids].reset_index()
    daily = daily[daily["neighborhood_id"].notna()]
    days = pd.date_range(daily["day"].min(), daily["day"].max(), freq="D")
    wide = daily.pivot_table(index="neighborhood_id", columns="day", values="value", aggfunc="sum")
    counts = wide.reindex(index=ids, columns=days).fillna(0).to_numpy()
    gdf = gpd.GeoDataFrame({"neighborhood_id": ids}, geometry=from_wkt(hoods["geometry_wkt"].to_numpy()),
                           crs="EPSG:4326")
    return counts, days, gdf


def timed(fn, *args, **kwargs):
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t


def permuted_window(x: np.ndarray, rng) -> np.ndarray:
    """Return ``x`` with every case's day shuffled among the cases (area and day totals kept)."""
    area = np.repeat(np.arange(x.shape[0]), x.sum(axis=1).astype(int))
    day = np.concatenate([np.repeat(np.arange(x.shape[1]), x[a].astype(int)) for a in range(x.shape[0])])
    out = np.zeros_like(x)
    np.add.at(out, (area, rng.permutation(day)), 1)
    return out


def inject(x: np.ndarray, area: int, end: int, days: int, rise: float, rng) -> np.ndarray:
    """Return a copy of ``x`` with Poisson(rise * the area's mean of the 28 days before) extra cases
    on each of the ``days`` days ending at ``end``."""
    out = x.copy()
    start = end - days + 1
    mean = x[area, max(0, start - 28):start].mean()
    out[area, start:end + 1] += rng.poisson(rise * mean, days)
    return out


Q = {"q95": 0.95, "q997": 1 - 1 / RI_DAYS}


def time_runs(counts, days, gdf, settings) -> dict:
    """Print and return the design, one-run and reuse timings and the last day's most likely cluster."""
    design, t_design = timed(polygon_design, gdf)
    window = counts[:, -STUDY_DAYS:]
    null, t_null = timed(null_max_llr, window, design, settings)
    found, t_obs = timed(scan_clusters, window, design, settings, null)
    reuse = float(np.median([timed(scan_clusters, window, design, settings, null)[1] for _ in range(20)]))
    print(f"zones: {int(design.valid.sum())} ({design.rule}); cylinders per run "
          f"{int(design.valid.sum()) * settings.window(STUDY_DAYS)}")
    print(f"time: design {t_design:.2f} s; one prospective run {t_null + t_obs:.2f} s "
          f"(null {t_null:.2f} s + scan {t_obs * 1000:.1f} ms); reuse of the null: {reuse * 1000:.1f} ms/run")
    top = found.iloc[0]
    print(f"last day {days[-1]:%Y-%m-%d}: most likely cluster {list(top['member_ids'])} {top['n_days']} days, "
          f"obs {top['observed']:.0f} exp {top['expected']:.1f} LLR {top['llr']:.2f} p {top['p_value']:.3f}")
    print("null maxima quantiles: " + ", ".join(f"{k}={np.quantile(null, v):.2f}" for k, v in Q.items()))
    return {"design": design, "window": window, "null": null, "run_s": t_null + t_obs, "reuse_ms": reuse * 1000}


def null_drift(counts, design, null, settings) -> None:
    """Print Monte Carlo noise (same window, another seed), then drift to earlier end days."""
    def change(other):
        return ", ".join(f"{k} {np.quantile(other, v) / np.quantile(null, v) - 1:+.1%}" for k, v in Q.items())

    print("null noise, same window, other seed: "
          + change(null_max_llr(counts[:, -STUDY_DAYS:], design, ScanSettings(seed=settings.seed + 1))))
    last = counts.shape[1] - 1
    for gap in (1, 7, 28):
        other = null_max_llr(counts[:, last - gap - STUDY_DAYS + 1: last - gap + 1], design, settings)
        print(f"null drift, end day -{gap:>2} d: " + change(other))


def reuse_check(counts, design, settings, n, rng) -> None:
    """Print how often the reused (un-injected) null gives the exact null's decision on injected data."""
    if not n:
        return
    last = counts.shape[1] - 1
    agree, dp, detected = [], [], []
    for _ in range(n):
        end = int(rng.integers(last - 400, last + 1))
        x = inject(counts, int(rng.integers(counts.shape[0])), end, 14, 1.0, rng)
        win = x[:, end - STUDY_DAYS + 1:end + 1]
        base_null = null_max_llr(counts[:, end - STUDY_DAYS + 1:end + 1], design, settings)
        exact = scan_clusters(win, design, settings)["p_value"].iloc[0]
        reused = scan_clusters(win, design, settings, base_null)["p_value"].iloc[0]
        agree.append((exact * RI_DAYS <= 1) == (reused * RI_DAYS <= 1) and (exact < 0.05) == (reused < 0.05))
        dp.append(abs(exact - reused))
        detected.append(reused * RI_DAYS <= 1)
    print(f"reuse check, {n} injected 14-day +100% outbreaks: same alarm decision (RI>=365 and p<0.05) "
          f"in {np.mean(agree):.1%}; |p exact - p reused| median {np.median(dp):.4f} max {np.max(dp):.4f}; "
          f"most likely cluster alarms on day 14 in {np.mean(detected):.1%}")


def null_calibration(window, design, settings, runs, rng) -> tuple[float, float]:
    """Print and return the shares of date-permuted copies with p < 0.05 and with RI >= 365."""
    t0 = time.perf_counter()
    null_p = np.array([scan_clusters(permuted_window(window, rng), design,
                                     ScanSettings(seed=settings.seed + 1 + r))["p_value"].iloc[0] for r in range(runs)])
    share05, share_ri = float(np.mean(null_p < 0.05)), float(np.mean(null_p * RI_DAYS <= 1))
    print(f"null calibration: {runs} date-permuted copies of the last {STUDY_DAYS} days "
          f"({time.perf_counter() - t0:.0f} s): share p<0.05 {share05:.3f}, share RI>=365 {share_ri:.3f}, "
          f"share p<0.10 {np.mean(null_p < 0.10):.3f}")
    return share05, share_ri


def real_alarm_share(counts, days, design, settings) -> tuple[float, float]:
    """Print and return the shares of real end days (every 7th over two years) with p < 0.05 / RI >= 365."""
    last = counts.shape[1] - 1
    ends = list(range(last - 728, last + 1, 7))
    runner = ProspectiveScan(counts, design, settings, study_days=STUDY_DAYS)
    real_p = np.array([runner.clusters(e)["p_value"].iloc[0] for e in ends])
    real05, real_ri = float(np.mean(real_p < 0.05)), float(np.mean(real_p * RI_DAYS <= 1))
    print(f"real data, no injection: {len(ends)} end days (every 7th, {days[ends[0]]:%Y-%m-%d}..{days[ends[-1]]:%Y-%m-%d}): "
          f"share with p<0.05 {real05:.3f}, share with RI>=365 {real_ri:.3f}")
    return real05, real_ri


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", type=Path, default=Path("/work/baseline/pulse.duckdb"))
    parser.add_argument("--runs", type=int, default=100, help="null-calibration runs")
    parser.add_argument("--injections", type=int, default=100, help="injected outbreaks for the reuse check")
    parser.add_argument("--seed", type=int, default=2005)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    settings = ScanSettings()
    counts, days, gdf = read_real(args.warehouse)
    print(f"data: {counts.shape[0]} areas x {counts.shape[1]} days ({days[0]:%Y-%m-%d}..{days[-1]:%Y-%m-%d}), "
          f"{int(counts.sum())} drug incidents; study window {STUDY_DAYS} days; max window "
          f"{settings.max_days} days; {settings.permutations} permutations")
    run = time_runs(counts, days, gdf, settings)
    null_drift(counts, run["design"], run["null"], settings)
    reuse_check(counts, run["design"], settings, args.injections, rng)
    share05, share_ri = null_calibration(run["window"], run["design"], settings, args.runs, rng)
    real05, real_ri = real_alarm_share(counts, days, run["design"], settings)
    print(f"scan_run_s={run['run_s']:.2f} scan_reuse_ms={run['reuse_ms']:.1f} null_share_p05={share05:.3f} "
          f"null_share_ri365={share_ri:.3f} real_share_p05={real05:.3f} real_share_ri365={real_ri:.3f}")


if __name__ == "__main__":
    main()

"""Alarm detectors on the real daily drug-incident series, with injected outbreaks.

Reads ``fct_incidents`` (is_drug_offense) per neighborhood and day and ``dim_neighborhoods``
(polygons, for the pooling regions) from a DuckDB warehouse, read-only. Every detector is fitted
once on the real series; its false alert episodes per area-year are counted on the real series
(every alarm of the evaluation years counts as false: the series has no labelled outbreaks), and
its thresholds are calibrated to the alarm budget on that same history, as in the pipeline.
Outbreaks are then injected one at a time (7 and 14 days, +50% and +100% of the area's mean of
the 28 days before, Poisson draws, area uniform, start uniform over the evaluation days, seeded)
and an outbreak counts as found when an alarm the real series did not have falls inside the
window; delay = days from the outbreak's first day to that alarm (0 = on the first day).
Sparse areas (< 0.2 events/day) also count as found when the pooled region containing them
alarms; those region alarms count in the budget (F counts area and region episodes together
over area-years). EARS runs side by side: with CDC thresholds, and calibrated to the same budget.
The last line: ``false_episodes_per_area_year=F sens_busy_14d_100=S1 sens_mid_14d_100=S2
sens_sparse_pooled_14d_100=S3 median_delay_days=D`` (headline detector; D over its detected
14-day +100% outbreaks in all bands). Goals at F <= 1: S1 >= 0.9, S2 >= 0.5, S3 >= 0.5, D <= 4.

    python -m bench.alarms [--warehouse data/pulse.duckdb] [--injections 2000] [--seed 14]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from bench.alarm_injections import (
    EarsScorer, GlmScorer, draw_injections, first_new_alarm, oracle_detected, oracle_real_detected,
)
from tasks.trends.budget import EPISODE_MAX_GAP, count_episodes
from tasks.trends.methods.glm_baseline import DEFAULTS, glm_scores
from tasks.trends.methods.glm_pooled import sparse_regions
from tasks.trends.regions import region_series
from tasks.trends.registry import methods
from tasks.trends.series import id_order

BANDS = (("sparse", 0.0, 0.2), ("mid", 0.2, 1.0), ("busy", 1.0, np.inf))
SCENARIOS = ((7, 0.5), (7, 1.0), (14, 0.5), (14, 1.0))
DAYS_PER_YEAR = 365.2425


def read_series(path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (day x neighborhood counts with a trailing citywide column, neighborhoods with polygons)."""
    if not path.exists():
        sys.exit(f"{path}: no such warehouse file; pass --warehouse PATH to a DuckDB built by the pipeline")
    con = duckdb.connect(str(path), read_only=True)
    try:
        daily = con.sql("SELECT neighborhood_id, CAST(occurred_at AS DATE) AS day, COUNT(*) AS n FROM fct_incidents "
                        "WHERE is_drug_offense GROUP BY 1, 2").df()
        hoods = con.sql("SELECT neighborhood_id, name, geometry_wkt FROM dim_neighborhoods").df()
    finally:
        con.close()
    daily["day"] = pd.to_datetime(daily["day"])
    days = pd.date_range(daily["day"].min(), daily["day"].max(), freq="D")
    ids = sorted(hoods["neighborhood_id"].astype(str), key=id_order)
    areas = daily.dropna(subset=["neighborhood_id"]).pivot(index="day", columns="neighborhood_id", values="n")
    wide = areas.reindex(index=days, columns=ids).fillna(0.0).astype(float)
    wide["citywide"] = daily.groupby("day")["n"].sum().reindex(days).fillna(0.0).astype(float)
    hoods["neighborhood_id"] = hoods["neighborhood_id"].astype(str)
    return wide, hoods


def evaluate(wide: pd.DataFrame, hoods: pd.DataFrame, n_inj: int, seed: int, budget: float) -> dict:
    """Return per-detector clean episodes and, per scenario, found/delay arrays for every injection."""
    timings = {}
    t0 = time.perf_counter()
    areas = wide.drop(columns="citywide")
    Y = wide.to_numpy(float)
    n_area = areas.shape[1]
    params = {**DEFAULTS, "alarm_budget": budget}
    glm = GlmScorer(wide.index, Y, "day", params)
    timings["glm fit + calibrate (78 series)"] = time.perf_counter() - t0
    first = int(np.argmax(np.isfinite(glm.sc["expected"]).all(axis=1)))
    t1 = time.perf_counter()
    regions = sparse_regions(areas, hoods, "day", params)
    R = region_series(areas, regions)
    glm_r = GlmScorer(wide.index, R.to_numpy(float), "day", params)
    timings[f"glm fit + calibrate ({len(regions)} regions)"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    ears_b, ears_c = EarsScorer(Y, first, budget), EarsScorer(Y, first, None)
    ears_rb = EarsScorer(R.to_numpy(float), first, budget)
    timings["ears (areas + regions)"] = time.perf_counter() - t2
    region_of = np.full(n_area, -1)
    for k, members in enumerate(regions.values()):
        region_of[[areas.columns.get_loc(m) for m in members]] = k
    gap = EPISODE_MAX_GAP["day"]
    clean = {name: count_episodes(s.clean_alarm[first:], gap) for name, s in
             (("glm_baseline", glm), ("ears_budget", ears_b), ("ears_cdc", ears_c), ("glm_regions", glm_r),
              ("ears_regions", ears_rb))}
    rng = np.random.default_rng(seed)
    cols = np.arange(n_area)
    out = {"clean": clean, "first": first, "regions": regions, "region_of": region_of, "scenarios": {}}
    t3 = time.perf_counter()
    for length, rise in SCENARIOS:
        inj = draw_injections(Y, cols, first, n_inj, length, rise, rng)
        rc = region_of[inj.col]
        found = {}
        for name, scorer in (("glm_baseline", glm), ("ears_budget", ears_b), ("ears_cdc", ears_c)):
            found[name] = first_new_alarm(scorer.inject(inj), _clean_window(scorer.clean_alarm, inj, inj.col))
        for name, area_key, scorer in (("glm_baseline+regions", "glm_baseline", glm_r),
                                       ("ears_budget+regions", "ears_budget", ears_rb)):
            reg = np.where(rc >= 0, first_new_alarm(scorer.inject(inj, rc), _clean_window(scorer.clean_alarm, inj, rc)), -1)
            a = found[area_key]
            found[name] = np.where((a >= 0) & (reg >= 0), np.minimum(a, reg), np.maximum(a, reg))
        found["oracle_poisson"] = np.where(oracle_detected(inj, Y, budget), length - 1, -1)
        found["window_test_real"] = np.where(oracle_real_detected(inj, Y, budget, first), length - 1, -1)
        out["scenarios"][(length, rise)] = {"col": inj.col, "found": found}
    timings[f"injections ({len(SCENARIOS)} x {n_inj})"] = time.perf_counter() - t3
    out["timings"], out["years"] = timings, (len(wide) - first) / DAYS_PER_YEAR
    out["rates"] = areas.mean().to_numpy()
    out["oos_split"] = pd.Timestamp("2018-01-01")
    out["oos_rate"] = out_of_sample_rate(wide.index, Y, glm, n_area, out["oos_split"])
    return out


def out_of_sample_rate(starts: pd.DatetimeIndex, Y: np.ndarray, glm: GlmScorer, n_area: int,
                       split: pd.Timestamp) -> float:
    """Return false episodes per area-year after ``split`` with thresholds calibrated only on the days before."""
    cut = int(np.searchsorted(starts, split))
    fit = {k: (v[:cut] if isinstance(v, np.ndarray) and len(v) == len(Y) else v) for k, v in glm.fit.items()}
    train = glm_scores(starts[:cut], Y[:cut], "day", glm.params, fit=fit)
    sc = glm.sc
    alarm = ((sc["spike_gate"] & (sc["spike"] > train["spike_threshold"][None, :]))
             | (sc["gate"] & (sc["cusum"] > train["cusum_threshold"][None, :])))[cut:, :n_area]
    return float(count_episodes(alarm, EPISODE_MAX_GAP["day"]).sum() / (n_area * (len(Y) - cut) / DAYS_PER_YEAR))


def _clean_window(alarm: np.ndarray, inj, cols: np.ndarray) -> np.ndarray:
    rows = inj.start[:, None] + np.arange(inj.length)[None, :]
    safe = np.where(cols >= 0, cols, 0)
    return alarm[rows, safe[:, None]] & (cols >= 0)[:, None]


def summarize(res: dict) -> tuple[list[dict], dict]:
    """Return the table rows (detector x band) and the figures of the last line."""
    rates, years, clean = res["rates"], res["years"], res["clean"]
    band_of = np.array([next(b for b, lo, hi in BANDS if lo <= r < hi) for r in rates])
    n_area = len(rates)
    region_eps = {"glm_baseline+regions": clean["glm_regions"].sum(), "ears_budget+regions": clean["ears_regions"].sum()}
    rows = []
    for det in ("glm_baseline", "glm_baseline+regions", "ears_budget", "ears_budget+regions", "ears_cdc",
                "oracle_poisson", "window_test_real"):
        base = det.split("+")[0]
        for band, _, _ in BANDS:
            if det.endswith("+regions") and band != "sparse":
                continue
            in_band = band_of == band
            row = {"detector": det, "band": band, "areas": int(in_band.sum())}
            if base in clean:
                eps = clean[base][:n_area][in_band].sum() + (region_eps.get(det, 0) if band == "sparse" else 0)
                row["false_ep"] = eps / (in_band.sum() * years)
            for (length, rise), sc in res["scenarios"].items():
                hit = sc["found"][det][in_band[sc["col"]]]
                row[f"{length}d+{int(rise * 100)}%"] = (np.mean(hit >= 0), np.median(hit[hit >= 0]) if (hit >= 0).any()
                                                        else np.nan, len(hit))
            rows.append(row)
    total = clean["glm_baseline"][:n_area].sum() + clean["glm_regions"].sum()
    sc = res["scenarios"][(14, 1.0)]
    head = np.where(band_of[sc["col"]] == "sparse", sc["found"]["glm_baseline+regions"], sc["found"]["glm_baseline"])
    last = {"false_episodes_per_area_year": total / (n_area * years),
            "sens_busy_14d_100": _sens(sc, band_of, "busy", "glm_baseline"),
            "sens_mid_14d_100": _sens(sc, band_of, "mid", "glm_baseline"),
            "sens_sparse_pooled_14d_100": _sens(sc, band_of, "sparse", "glm_baseline+regions"),
            "median_delay_days": float(np.median(head[head >= 0])) if (head >= 0).any() else float("nan")}
    return rows, last


def _sens(sc: dict, band_of: np.ndarray, band: str, det: str) -> float:
    hit = sc["found"][det][band_of[sc["col"]] == band]
    return float(np.mean(hit >= 0)) if len(hit) else float("nan")


def print_table(rows: list[dict]) -> None:
    keys = [f"{length}d+{int(rise * 100)}%" for length, rise in SCENARIOS]
    print(f"{'detector':<22} {'band':<7} {'areas':>5} {'false ep/area-yr':>16} "
          + " ".join(f"{k + ' sens/delay (n)':>24}" for k in keys))
    for r in rows:
        fe = f"{r['false_ep']:.2f}" if "false_ep" in r else "-"
        cells = []
        for k in keys:
            s, d, n = r[k]
            cells.append(f"{s:>6.3f} / {'-' if np.isnan(d) else f'{d:.0f}':>3} d ({n:>4})")
        print(f"{r['detector']:<22} {r['band']:<7} {r['areas']:>5} {fe:>16} " + " ".join(f"{c:>24}" for c in cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", type=Path, default=Path("data/pulse.duckdb"))
    parser.add_argument("--injections", type=int, default=2000, help="outbreaks per scenario (>= 1000)")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--alarm-budget", type=float, default=DEFAULTS["alarm_budget"])
    args = parser.parse_args()
    started = time.perf_counter()
    wide, hoods = read_series(args.warehouse)
    res = evaluate(wide, hoods, args.injections, args.seed, args.alarm_budget)
    rows, last = summarize(res)
    first_day = wide.index[res["first"]]
    print(f"series: {wide.shape[1] - 1} areas + citywide, {wide.index[0]:%Y-%m-%d}..{wide.index[-1]:%Y-%m-%d}; "
          f"evaluated from {first_day:%Y-%m-%d} ({res['years']:.2f} years, the first day every baseline exists)")
    print(f"alarm budget {args.alarm_budget:g} false episode(s) per series-year; {len(res['regions'])} pooled regions "
          f"of {sum(map(len, res['regions'].values()))} sparse areas: "
          + ", ".join(res["regions"]))
    clusters = [m.name for m in methods("cluster")]
    print("cluster methods in the registry: " + (", ".join(clusters) + " (not yet scored here: pooled regions only)"
                                                 if clusters else "none (pooled-region detectors only)"))
    print_table(rows)
    print(f"out of sample: glm_baseline thresholds calibrated on {first_day:%Y-%m-%d}..{res['oos_split'] - pd.Timedelta(days=1):%Y-%m-%d} "
          f"only give {res['oos_rate']:.2f} false episodes per area-year from {res['oos_split']:%Y-%m-%d} on")
    print("timings: " + ", ".join(f"{k} {v:.1f} s" for k, v in res["timings"].items())
          + f"; total {time.perf_counter() - started:.1f} s")
    print(" ".join(f"{k}={v:.3f}" if k != "median_delay_days" else f"{k}={v:g}" for k, v in last.items()))


if __name__ == "__main__":
    main()

"""Calibrate the program-impact estimators on placebo programs drawn like the demo programs.

Reads the real monthly drug-offense counts per community area from a warehouse (read-only) the
way the trends flow does (complete months only), then draws placebo feeds as
``tasks/synthetic/programs.py`` draws the demo feed: the same areas (``choose_areas`` on the
warehouse's 2017 drug incidents and 2010 population), twelve programs per feed on distinct
random Mondays between FIRST_START and LAST_START, program i in the (i mod 7)-th area — so
several areas host two programs. Nothing is changed in the data (no effect): per method, the
share of 95% intervals excluding 1 and of p < 0.05. Then a planted effect: the program area's
counts from the start month on are binomially thinned (default keep 0.8, a -20% effect) one
program at a time (the staggered DiD, whose unit is the area from its first program, gets one
run per feed with every area thinned from its first start): power (p < 0.05), bias and coverage
of the true rate ratio. The last line summarises the methods the report headlines:

    placebo_fpr_max=P coverage_min=C power=W

    python -m bench.impact_calibration [--warehouse data/pulse.duckdb] [--feeds 30] [--seed 1]
"""
from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import create_engine, func, select

from tasks.synthetic.programs import FIRST_START, LAST_START, PROGRAM_MIX, choose_areas
from tasks.trends import inputs as ti
from tasks.trends.impact import HEADLINE, estimate_program_impact, is_conclusive
from tasks.trends.registry import TrendInputs, methods
from warehouse.metadata import fct_incidents

METRIC = "drug_incidents"
DID = "staggered_did"


def read_panel(warehouse: Path) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, int]]:
    """Return (monthly series, neighborhoods, 2017 drug incidents per area) from a warehouse, read-only."""
    engine = create_engine(f"duckdb:///{warehouse}", connect_args={"read_only": True})
    try:
        span = ti.read_incident_span(engine)
        daily = ti.read_drug_incidents_daily(engine)
        hoods = ti.read_neighborhoods(engine)
        t = fct_incidents
        year = func.extract("year", t.c.occurred_at)
        with engine.connect() as conn:
            rows = conn.execute(select(t.c.neighborhood_id, func.count()).where(t.c.is_drug_offense, year == 2017)
                                .group_by(t.c.neighborhood_id)).all()
    finally:
        engine.dispose()
    monthly = ti.period_series(daily, "month", span, hoods["neighborhood_id"].tolist())
    return monthly, hoods, {str(a): int(n) for a, n in rows if a is not None}


def placebo_feed(areas: list[str], rng: np.random.Generator, feed: int) -> pd.DataFrame:
    """Return one feed of placebo programs drawn as ``generate_programs`` draws the demo feed."""
    mondays = pd.date_range(FIRST_START, LAST_START, freq="7D")
    starts = np.sort(rng.choice(mondays, size=len(PROGRAM_MIX), replace=False))
    return pd.DataFrame({"program_id": [f"f{feed:02d}-p{i + 1:02d}" for i in range(len(starts))],
                         "neighborhood_id": [areas[i % len(areas)] for i in range(len(starts))],
                         "started_on": pd.to_datetime(starts)})


def thinned(monthly: pd.DataFrame, plants: list[tuple[str, pd.Timestamp]], keep: float,
            rng: np.random.Generator) -> pd.DataFrame:
    """Return ``monthly`` with each (area, first month) series binomially thinned from that month on."""
    out = monthly.copy()
    for area, month in plants:
        rows = (out["neighborhood_id"] == area) & (out["period_start"] >= month)
        out.loc[rows, "value"] = rng.binomial(out.loc[rows, "value"].astype(int).to_numpy(), keep).astype(float)
    return out


def records(rows: pd.DataFrame, scenario: str, feed: int, first: set[str]) -> list[dict]:
    """Return flat evaluation records (one per program x method) from program_impact rows."""
    out = []
    for r in rows.to_dict("records"):
        info = json.loads(r["details"])
        if r["method"] == DID and r["program_id"] not in first:
            continue  # the area's later program repeats its first program's estimate
        out.append({"scenario": scenario, "feed": feed, "program_id": r["program_id"], "method": r["method"],
                    "area": r["neighborhood_id"],
                    "source": info.get("source_method", r["method"]), "estimate": r["estimate"],
                    "ci_low": r["ci_low"], "ci_high": r["ci_high"], "p_value": r["p_value"],
                    "cannot_tell": not is_conclusive(r), "exploratory": bool(info.get("exploratory")),
                    "n_placebos": info.get("n_distinct_placebos")})
        if r["method"] == DID and "space_placebo_p" in info:
            # The placebo-in-space p the DiD keeps in details: shown to say why it is not the inference.
            out.append({**out[-1], "method": f"{DID} (space p)", "ci_low": math.nan, "ci_high": math.nan,
                        "p_value": info["space_placebo_p"], "n_placebos": info["space_n_distinct_placebos"]})
    return out


def run_feeds(monthly: pd.DataFrame, hoods: pd.DataFrame, areas: list[str], n_feeds: int, seed: int,
              keep: float) -> pd.DataFrame:
    """Return evaluation records for ``n_feeds`` placebo feeds: null, planted per program, planted per area."""
    draw, thin = np.random.default_rng(seed), np.random.default_rng(seed + 1)
    per_program = [m.name for m in methods("impact") if m.name != DID]
    recs = []
    for f in range(n_feeds):
        programs = placebo_feed(areas, draw, f)
        month = programs["started_on"].dt.to_period("M").dt.to_timestamp()
        first = set(programs.loc[~programs["neighborhood_id"].duplicated(), "program_id"])
        base = TrendInputs(metric=METRIC, series={"month": monthly}, neighborhoods=hoods, programs=programs)
        recs += records(estimate_program_impact(base), "null", f, first)
        for prog, area, start in zip(programs["program_id"], programs["neighborhood_id"], month):
            planted = thinned(monthly, [(area, start)], keep, thin)
            inputs = TrendInputs(metric=METRIC, series={"month": planted}, neighborhoods=hoods, programs=programs,
                                 params={"program_ids": [prog], "methods": per_program})
            recs += records(estimate_program_impact(inputs), "planted", f, first)
        firsts = programs[programs["program_id"].isin(first)]
        planted = thinned(monthly, list(zip(firsts["neighborhood_id"], month[firsts.index])), keep, thin)
        inputs = TrendInputs(metric=METRIC, series={"month": planted}, neighborhoods=hoods, programs=programs,
                             params={"program_ids": sorted(first), "methods": [DID]})
        rows = estimate_program_impact(inputs)
        recs += records(rows[rows["method"] == DID], "planted", f, first)
    return pd.DataFrame(recs)


def summarise(recs: pd.DataFrame, keep: float) -> pd.DataFrame:
    """Return one row per method: placebo false-positive shares, then power, bias and coverage under the plant."""
    out = []
    for name, g in recs.groupby("method", sort=False):
        null, plant = g[g["scenario"] == "null"], g[g["scenario"] == "planted"]
        est_n, est_p = null[np.isfinite(null["estimate"])], plant[np.isfinite(plant["estimate"])]
        excl = (est_n["ci_low"] > 1) | (est_n["ci_high"] < 1)
        cover = (est_p["ci_low"] <= keep) & (est_p["ci_high"] >= keep)
        out.append({
            "method": name, "exploratory": bool(g["exploratory"].any()), "n_placebo": len(null),
            "estimated": len(est_n), "ci_excludes_1": excl.mean(), "p_lt_05": (est_n["p_value"] < 0.05).mean(),
            "cannot_tell": null["cannot_tell"].mean(), "n_planted": len(est_p),
            "power": (est_p["p_value"] < 0.05).mean(), "ci_below_1": (est_p["ci_high"] < 1).mean(),
            "bias_mean": est_p["estimate"].mean() / keep - 1, "bias_median": est_p["estimate"].median() / keep - 1,
            "coverage": cover.mean(), "median_ci_width": (est_p["ci_high"] / est_p["ci_low"]).median(),
            "min_p_median": (1 / (est_n["n_placebos"].astype(float) + 1)).median(),
        })
    return pd.DataFrame(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", type=Path, default=Path("data/pulse.duckdb"))
    parser.add_argument("--feeds", type=int, default=30, help="placebo feeds of 12 programs each")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=float, default=0.8, help="planted rate ratio (binomial thinning share)")
    args = parser.parse_args()
    started = time.perf_counter()
    monthly, hoods, by_area = read_panel(args.warehouse)
    population = hoods[["neighborhood_id", "population"]]
    areas = choose_areas(hoods, population, by_area)
    months = monthly["period_start"]
    print(f"warehouse {args.warehouse}: {months.min():%Y-%m}..{months.max():%Y-%m}, "
          f"{monthly['neighborhood_id'].nunique()} areas; placebo areas {', '.join(areas)}")
    recs = run_feeds(monthly, hoods, areas, args.feeds, args.seed, args.keep)
    table = summarise(recs, args.keep)
    null = recs[recs["scenario"] == "null"]
    by_area = null.assign(hit=null["p_value"] < 0.05).pivot_table(index="method", columns="area", values="hit")
    print("share of placebo programs with p < 0.05, by area:")
    print(by_area.round(2).to_string())
    with pd.option_context("display.width", 200, "display.max_columns", 30, "display.float_format", "{:.3f}".format):
        print(table.to_string(index=False))
    head = table[table["method"] == HEADLINE]
    sources = set(recs.loc[(recs["method"] == HEADLINE) & np.isfinite(recs["estimate"]), "source"])
    used = table[table["method"].isin(sources | {HEADLINE})]
    elapsed = time.perf_counter() - started
    print(f"headline sources: {', '.join(sorted(sources))}; {len(recs)} estimates in {elapsed:.0f} s")
    fpr = float(np.nanmax(used[["ci_excludes_1", "p_lt_05"]].to_numpy()))
    print(f"placebo_fpr_max={fpr:.3f} coverage_min={used['coverage'].min():.3f} "
          f"power={float(head['power'].iloc[0]) if len(head) else math.nan:.3f}")


if __name__ == "__main__":
    main()

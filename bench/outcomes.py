"""Recover the planted program effect on re-arrest from the SYNTHETIC outcomes demo.

Generates the demo programs and admissions (default seeds) and the arrests / discharges demo with
a planted effect (``tasks.synthetic.arrests``: participants of four programs have, with
probability 0.25, no arrest in the 12 months after their first session, so their re-arrest risk is
0.75 x what it would have been; the three other roster programs have no effect), loads every feed
through its adapter and GX suite, matches each participant to up to k non-participants (exact, on
area, age group, sex and prior arrests, at the participant's first session) and prints per program
the 6- and 12-month re-arrest risk ratios, treatment uptake and completion, the TEDS-D benchmark,
and, as its last line:

    planted_rr=R estimated_rr=E ci=[LO,HI] null_programs_significant=N

(E and its interval pool the planted programs, any charge, 12 months; N counts programs without an
effect whose 12-month interval excludes 1). ``--replicates`` repeats generation and estimation for
further seeds and prints coverage, power and false-finding shares before that line.

    python -m bench.outcomes [--warehouse /work/baseline/pulse.duckdb] [--seed 20181112] [--replicates 0]
"""
from __future__ import annotations

import argparse
import os
import time
from datetime import datetime
from pathlib import Path

import pandas as pd

from tasks.outcomes.benchmark import teds_benchmark
from tasks.outcomes.demo_run import defect_recall, load_demo
from tasks.outcomes.linkage import treatment_episodes
from tasks.outcomes.marts import participant_completion
from tasks.outcomes.recovery import pooled, program_effects, recovery_line, recovery_summary
from tasks.outcomes.treatment import treatment_uptake
from tasks.synthetic.arrests import DEFAULT_SEED, PLANTED_PROGRAMS, PLANTED_RR, generate_outcomes_demo
from tasks.synthetic.outcome_inputs import demo_inputs, real_arrests, real_arrests_from_files

KEY = b"bench-outcomes-synthetic-key-0001"  # synthetic data only: any 32-byte key links the feeds
RUN_DATE = datetime(2018, 11, 13)  # the day after the data end: typo years (2071) are future dates


def _skeleton(warehouse: Path | None, data_dir: Path) -> pd.DataFrame:
    if warehouse is None:
        return real_arrests_from_files(data_dir)
    from sqlalchemy import create_engine

    engine = create_engine(f"duckdb:///{warehouse}", connect_args={"read_only": True})
    try:
        return real_arrests(engine)
    finally:
        engine.dispose()


def _estimate(inputs, seed: int, data_dir: Path, k: int):
    demo = generate_outcomes_demo(inputs, seed=seed)
    loaded = load_demo(demo, inputs, data_dir, KEY, RUN_DATE)
    end = inputs.skeleton["arrested_on"].max()
    return demo, loaded, program_effects(loaded.participation, loaded.arrests, end, k=k, seed=seed)


def _fmt(r) -> str:
    return f"{r.risk_ratio:5.2f} [{r.ci_low:4.2f},{r.ci_high:4.2f}]" if pd.notna(r.risk_ratio) else "    n/a        "


def print_tables(demo, loaded, effects, data_end) -> None:
    recall = defect_recall(demo, loaded)
    print("defects planted -> quarantined:", ", ".join(f"{d} {q}/{n}" for d, n, q in
                                                       recall[["defect", "n", "n_quarantined"]].itertuples(index=False)))
    lost = effects.matching.unmatched["reason"].value_counts().to_dict()
    print(f"matched sets: {effects.outcomes['set_id'].nunique()}; left out: {lost}")
    uptake = treatment_uptake(loaded.participation, loaded.admissions, data_end).set_index("program_id")
    done = participant_completion(loaded.participation, treatment_episodes(loaded.admissions, loaded.discharges))
    done = done.set_index("program_id")
    rr = pd.concat([effects.by_program, pooled(effects.outcomes, PLANTED_PROGRAMS, "planted"),
                    pooled(effects.outcomes, sorted(set(effects.by_program["program_id"]) - set(PLANTED_PROGRAMS)),
                           "no effect")])
    print(f"{'program':10} {'planted':7} {'sets12':>6} {'any 6m':>17} {'any 12m':>17} {'drug 12m':>17} "
          f"{'risk12 p/c':>11} {'uptake':>6} {'compl':>5}")
    for program, g in rr.groupby("program_id", sort=False):
        cell = {(c, w): r for c, w, r in zip(g["charge"], g["window_months"], g.itertuples())}
        a12 = cell[("any", 12)]
        up = f"{uptake.at[program, 'uptake']:.2f}" if program in uptake.index else ""
        co = f"{done.at[program, 'completion_rate']:.2f}" if program in done.index else ""
        flag = "yes" if program in PLANTED_PROGRAMS or program == "planted" else "no"
        print(f"{program:10} {flag:7} {a12.n_sets:6d} {_fmt(cell[('any', 6)]):>17} {_fmt(a12):>17} "
              f"{_fmt(cell[('drug', 12)]):>17} {a12.participant_risk:5.2f}/{a12.comparison_risk:4.2f} {up:>6} {co:>5}")
    real = demo.truth["realized"]["any_12m"]
    print(f"truth: planted risk ratio {PLANTED_RR}; in this sample the planted participants' own 12-month ratio "
          f"(with / without the effect) is {real['risk_ratio']:.3f} ({real['events_with_effect']}/"
          f"{real['events_without_effect']} of {real['n_cohort']})")
    bench = teds_benchmark(loaded.teds)
    print("TEDS-D 2023 sample (real):", "; ".join(
        f"{r.referral_group} completion {r.completion_rate:.2f} [{r.completion_rate_ci_low:.2f},"
        f"{r.completion_rate_ci_high:.2f}] n={r.n_discharges}" for r in bench.itertuples()))


def replicate(inputs, seeds, data_dir: Path, k: int) -> None:
    rows = []
    for seed in seeds:
        _, _, effects = _estimate(inputs, seed, data_dir, k)
        rows.append(recovery_summary(effects, PLANTED_PROGRAMS, PLANTED_RR))
    s = pd.DataFrame(rows)
    n_null = int(s["null_programs"].sum())
    print(f"replicates={len(s)} coverage={s['covered'].mean():.2f} below_one={s['below_one'].mean():.2f} "
          f"mean_estimated_rr={s['estimated_rr'].mean():.3f} null_false_findings={int(s['null_programs_significant'].sum())}"
          f"/{n_null} replicates_with_N_le_1={(s['null_programs_significant'] <= 1).mean():.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", type=Path, default=None,
                        help="DuckDB warehouse whose fct_incidents arrests seed the demo (default: the raw incident files)")
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("PULSE_DATA_DIR", "../shared/data")))
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--k", type=int, default=5, help="comparison people per participant")
    parser.add_argument("--replicates", type=int, default=0, help="further seeds for coverage and power")
    args = parser.parse_args()
    t0 = time.perf_counter()
    inputs = demo_inputs(args.data_dir, _skeleton(args.warehouse, args.data_dir))
    demo, loaded, effects = _estimate(inputs, args.seed, args.data_dir, args.k)
    print_tables(demo, loaded, effects, inputs.skeleton["arrested_on"].max())
    if args.replicates:
        replicate(inputs, range(args.seed + 1, args.seed + 1 + args.replicates), args.data_dir, args.k)
    print(f"elapsed {time.perf_counter() - t0:.0f} s (SYNTHETIC data)")
    print(recovery_line(recovery_summary(effects, PLANTED_PROGRAMS, PLANTED_RR)))


if __name__ == "__main__":
    main()

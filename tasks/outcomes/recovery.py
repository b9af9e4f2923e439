"""Program re-arrest estimates end to end, and the recovery check against a planted effect.

``program_effects`` runs matching -> outcomes -> risk ratios (per program, and pooled over any set
of programs) -> Kaplan-Meier curves; ``recovery_summary`` compares the pooled estimate for the
planted programs with the planted risk ratio and counts the programs without an effect whose
interval excludes 1 (false findings).
"""
from __future__ import annotations

from typing import NamedTuple

import pandas as pd

from tasks.outcomes.cohort import Matching, match_comparison
from tasks.outcomes.rearrest import WINDOWS_MONTHS, rearrest_outcomes
from tasks.outcomes.risk_ratio import risk_ratio_table
from tasks.outcomes.survival import rearrest_curves


class ProgramEffects(NamedTuple):
    matching: Matching
    outcomes: pd.DataFrame  # matched members with re-arrest outcomes (person-level: restricted)
    by_program: pd.DataFrame  # RISK_RATIO_COLUMNS per program, charge, window
    curves: pd.DataFrame  # CURVE_COLUMNS per program and role (person-free, not yet suppressed)


def program_effects(participation: pd.DataFrame, arrests: pd.DataFrame, data_end: pd.Timestamp, *, k: int = 5,
                    seed: int = 0, index: str = "first_session", windows: tuple[int, ...] = WINDOWS_MONTHS,
                    curve_days: int = 730) -> ProgramEffects:
    """Return matching, member outcomes, per-program risk ratios and survival curves."""
    matching = match_comparison(participation, arrests, k=k, seed=seed, index=index)
    outcomes = rearrest_outcomes(matching.matched, arrests, data_end, windows)
    return ProgramEffects(matching, outcomes, risk_ratio_table(outcomes, "program_id", windows),
                          rearrest_curves(outcomes, "program_id", ("any", "drug"), curve_days))


def pooled(outcomes: pd.DataFrame, programs, label: str, windows: tuple[int, ...] = WINDOWS_MONTHS) -> pd.DataFrame:
    """Return risk ratios over the sets of ``programs`` pooled, labelled ``label`` in program_id."""
    rows = risk_ratio_table(outcomes[outcomes["program_id"].isin(list(programs))], None, windows)
    return rows.assign(program_id=label)


def recovery_summary(effects: ProgramEffects, planted: tuple[str, ...], planted_rr: float, charge: str = "any",
                     window: int = 12) -> dict:
    """Return planted_rr, estimated_rr, ci, covered (interval holds planted_rr), below_one and
    null_programs_significant (programs without a planted effect whose interval excludes 1)."""
    est = pooled(effects.outcomes, planted, "planted")
    est = est[(est["charge"] == charge) & (est["window_months"] == window)].iloc[0]
    rows = effects.by_program[(effects.by_program["charge"] == charge) & (effects.by_program["window_months"] == window)]
    null = rows[~rows["program_id"].isin(list(planted))]
    significant = int(((null["ci_high"] < 1) | (null["ci_low"] > 1)).sum())
    return {"planted_rr": planted_rr, "estimated_rr": float(est["risk_ratio"]), "ci": (float(est["ci_low"]),
            float(est["ci_high"])), "covered": bool(est["ci_low"] <= planted_rr <= est["ci_high"]),
            "below_one": bool(est["ci_high"] < 1), "null_programs": len(null),
            "null_programs_significant": significant}


def recovery_line(summary: dict) -> str:
    """Return ``planted_rr=R estimated_rr=E ci=[LO,HI] null_programs_significant=N``."""
    lo, hi = summary["ci"]
    return (f"planted_rr={summary['planted_rr']:.2f} estimated_rr={summary['estimated_rr']:.3f} "
            f"ci=[{lo:.3f},{hi:.3f}] null_programs_significant={summary['null_programs_significant']}")

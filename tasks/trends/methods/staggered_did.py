"""Staggered-adoption difference-in-differences (Callaway & Sant'Anna 2021) for areas with programs.

An area is treated from its FIRST program's start (absorbing): later programs in the same area
cannot be told apart from it, so their rows carry the area's estimate and say so. Outcome: each
area's counts indexed to its mean over the first ``min_pre`` periods (so parallel trends are
proportional trends). Group-time effects ATT(g, t) are Callaway-Sant'Anna's unconditional ones
with the universal base period g-1 and the NOT-YET-TREATED comparison: never-treated pool areas
plus program areas whose first program starts after max(t, g-1) (pinned to diff-diff's
``CallawaySantAnna(control_group="not_yet_treated", base_period="universal")`` in tests). Per
cohort, ATT = mean post-period ATT(g, t) minus mean pre-period ATT(g, t), i.e. the base is the
whole pre-period rather than one month; RR = observed / (observed - ATT) on the index scale.

Inference: placebo-in-time (the cohort's start moved to every candidate period; the other areas
keep theirs), as for the comparative ITS; the placebo-in-space p over never-treated areas (all
distinct sets of the cohort's size, at most 999) is kept in ``details``. Calibration
(bench/impact_calibration.py, CALIBRATION): p < 0.05 for 7.6-10.5% of placebo cohorts (two
seeds), above the 7% budget, so exploratory. NOTE: the in-time test assumes the start is as
likely at any candidate month; an area's FIRST of two random starts falls early (2016) more
often, and the space p fails for the same divergent areas as the synthetic control.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from tasks.trends.impact_panel import (ImpactPanel, impact_frame, impact_panel, impact_row, programs_to_estimate,
                                       skipped_row, thin_reason)
from tasks.trends.placebo import in_time_p_values, invert_test, placebo_sets, rank_p_value
from tasks.trends.registry import Method, TrendInputs

NAME = "staggered_did"
# Measured by bench/impact_calibration.py (docs/benchmarks.md): p < 0.05 for 7.6-10.5% of placebo cohorts.
CALIBRATION = {"placebo_fpr": 0.105, "coverage": 0.900, "power": 0.071, "n_placebo_cohorts": 210,
               "measured_on": "2026-12-01"}
EXPLORATORY = True  # fails calibration on placebo programs (CALIBRATION): never the headline
NEVER = 10 ** 9  # adoption index of a never-treated area


def group_time_att(index: np.ndarray, adoption: np.ndarray, cohort: np.ndarray, g: int) -> np.ndarray:
    """Return Callaway-Sant'Anna ATT(g, t) for every period t (universal base g-1, not-yet-treated controls).

    ``index``: periods x units outcome; ``adoption``: each unit's first treated period index
    (NEVER for never-treated); ``cohort``: boolean mask of the units treated at ``g``. Controls
    for t are the non-cohort units with adoption > max(t, g-1); NaN where none is left.
    """
    n = index.shape[0]
    base = index[g - 1]
    diff = index - base[None, :]
    treated = diff[:, cohort].mean(axis=1)
    limit = np.maximum(np.arange(n), g - 1)
    controls = (adoption[None, :] > limit[:, None]) & ~cohort[None, :]
    counts = controls.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        comparison = np.where(counts > 0, (diff * controls).sum(axis=1) / counts, np.nan)
    return treated - comparison


def cohort_effect(index: np.ndarray, adoption: np.ndarray, cohort: np.ndarray, g: int) -> dict:
    """Return the cohort's ATT (mean post minus mean pre ATT(g, t)), observed post mean and RR at start ``g``."""
    att = group_time_att(index, adoption, cohort, g)
    effect = float(np.nanmean(att[g:]) - np.nanmean(att[:g]))
    observed = float(index[g:, cohort].mean())
    counterfactual = observed - effect
    rr = observed / counterfactual if counterfactual > 0 and observed > 0 else math.nan
    return {"att": effect, "observed_post_index": observed, "rate_ratio": rr, "att_gt": att}


def in_time_stats(index: np.ndarray, adoption: np.ndarray, cohort: np.ndarray, k: int, starts: np.ndarray,
                  ratios: np.ndarray) -> np.ndarray:
    """Return T(s) = log RR(s) / sqrt(1/s + 1/(n-s)) per hypothesised ratio (rows) and candidate start s (columns).

    H0(r): the cohort's index from its real start ``k`` on is r times its counterfactual, so it
    is divided by r before the cohort's start is moved to s. RR(s) = m1 / (m0 + D): m1, m0 the
    cohort's mean index after / before s, D the controls' post-minus-pre change.
    """
    n = index.shape[0]
    u = 1.0 / np.asarray(ratios, dtype=float)[:, None]
    x = index[:, cohort].mean(axis=1)
    after_k = np.arange(n) >= k
    out = np.full((u.shape[0], starts.size), np.nan)
    for col, s in enumerate(starts):
        shifted = np.where(cohort, s, adoption)
        att = group_time_att(index, shifted, cohort, s)
        treated_diff = x - x[s - 1]
        d = (np.nanmean(treated_diff[s:] - att[s:]) - np.nanmean(treated_diff[:s] - att[:s]))
        p1, p2 = x[s:][~after_k[s:]].sum(), x[s:][after_k[s:]].sum()
        q1, q2 = x[:s][~after_k[:s]].sum(), x[:s][after_k[:s]].sum()
        m1 = (p1 + u[:, 0] * p2) / (n - s)
        cf = (q1 + u[:, 0] * q2) / s + d
        with np.errstate(invalid="ignore", divide="ignore"):
            rr = np.where((cf > 0) & (m1 > 0), m1 / cf, np.nan)
        out[:, col] = np.log(rr) / math.sqrt(1.0 / s + 1.0 / (n - s))
    return out


def space_placebo(index: np.ndarray, adoption: np.ndarray, cohort: np.ndarray, g: int, *, max_sets: int = 999,
                  seed: int = 0) -> dict:
    """Return the placebo-in-space p of the cohort's ATT / pre-period RMS over never-treated sets of its size."""
    never = np.flatnonzero(adoption >= NEVER)
    sets = placebo_sets(never.size, int(cohort.sum()), max_sets=max_sets, seed=seed)

    def studentised(mask: np.ndarray, adopt: np.ndarray) -> float:
        att = group_time_att(index, adopt, mask, g)
        pre = att[:g] - np.nanmean(att[:g])
        rms = math.sqrt(float(np.nanmean(pre ** 2)))
        return abs(float(np.nanmean(att[g:]) - np.nanmean(att[:g]))) / rms if rms > 0 else math.inf

    observed = studentised(cohort, adoption)
    stats = []
    for row in sets:
        mask = np.zeros_like(cohort)
        mask[never[row]] = True
        # The placebo set plays the cohort; the real cohort is a not-yet-treated area again.
        adopt = np.where(mask, g, np.where(cohort, NEVER, adoption))
        stats.append(studentised(mask, adopt))
    return rank_p_value(observed, np.array(stats))


def estimate(panel: ImpactPanel) -> pd.DataFrame:
    """Return one staggered-DiD row per program of ``panel`` (PROGRAM_IMPACT_COLUMNS)."""
    prm = panel.params
    n, base_n = len(panel.periods), prm["min_pre"]
    first_k = panel.programs[panel.programs["k"] >= 0].groupby("neighborhood_id")["k"].min()
    first_k = first_k[first_k.index.isin(panel.treated)]
    units = [a for a in panel.areas if a in panel.treated or a in panel.pool]
    counts = panel.matrix(units)
    base = counts[:base_n].mean(axis=0)
    usable = base > 0
    units = [a for a, ok in zip(units, usable) if ok]
    index = counts[:, usable] / base[usable]
    adoption = np.array([int(first_k[a]) if a in first_k.index else NEVER for a in units])
    rows, done = [], {}
    for prog in programs_to_estimate(panel).itertuples(index=False):
        area_k = int(prog.area_first_k)
        reason = thin_reason(panel, prog._replace(k=area_k)) if area_k >= 0 else thin_reason(panel, prog)
        if not reason and prog.neighborhood_id not in units:
            reason = f"no events in the first {base_n} {panel.grain}s to index the area by"
        if not reason and not (adoption >= NEVER).any():
            reason = "no never-treated comparison area"
        if reason:
            rows.append(skipped_row(panel, prog, NAME, reason, exploratory=EXPLORATORY))
            continue
        if area_k not in done:
            done[area_k] = _cohort_result(panel, units, index, adoption, area_k)
        got = done[area_k]
        combined = [] if prog.k == area_k else list(prog.earlier)
        details = {**got["details"], "earlier_programs_in_area": list(prog.earlier),
                   "estimand": ("the area's programs together since its first program started" if combined
                                else "the cohort's programs from their start"),
                   "cannot_separate_from": combined}
        rows.append(impact_row(prog, NAME, estimate=got["estimate"], ci_low=got["ci_low"], ci_high=got["ci_high"],
                               p_value=got["p_value"], n_pre=area_k, n_post=n - area_k, details=details))
    return impact_frame(rows)


def _cohort_result(panel: ImpactPanel, units: list[str], index: np.ndarray, adoption: np.ndarray, g: int) -> dict:
    prm = panel.params
    n = index.shape[0]
    cohort = adoption == g
    effect = cohort_effect(index, adoption, cohort, g)
    starts = np.arange(prm["min_pre"], n - prm["min_post"] + 1)
    actual = int(np.searchsorted(starts, g))
    p = float(in_time_p_values(in_time_stats(index, adoption, cohort, g, starts, np.array([1.0])), actual)[0])
    ci = invert_test(lambda grid: in_time_p_values(in_time_stats(index, adoption, cohort, g, starts, grid), actual),
                     prm["alpha"])
    space = space_placebo(index, adoption, cohort, g, seed=prm["seed"])
    details = {
        "metric": panel.metric, "grain": panel.grain, "start_period": panel.periods[g],
        "cohort_areas": [a for a, c in zip(units, cohort) if c],
        "outcome": f"counts indexed to each area's mean over the first {prm['min_pre']} {panel.grain}s",
        "comparison": "not-yet-treated program areas and never-treated pool areas (Callaway-Sant'Anna)",
        "base_period": "universal (g-1); cohort ATT = mean post ATT(g,t) - mean pre ATT(g,t)",
        "n_never_treated": int((adoption >= NEVER).sum()), "n_not_yet_treated_areas": int(((adoption > g)
                                                                                          & (adoption < NEVER)).sum()),
        "excluded_adjacent_areas": sorted(panel.spillover), "att_index": effect["att"],
        "inference": "placebo-in-time: the cohort's start moved to every candidate period",
        "interval": "test inversion over rate ratios r (cohort post index divided by r)",
        "n_distinct_placebos": int(starts.size - 1), "min_attainable_p": 1.0 / starts.size, "alpha": prm["alpha"],
        "space_placebo_p": space["p_value"], "space_n_distinct_placebos": space["n_placebos"],
        "space_min_attainable_p": space["min_p"], "exploratory": EXPLORATORY, "calibration": CALIBRATION,
        **{f"ci_{key}": ci[key] for key in ("open_low", "open_high", "gaps", "empty")},
    }
    return {"estimate": effect["rate_ratio"], "ci_low": ci["ci_low"], "ci_high": ci["ci_high"], "p_value": p,
            "details": details}


def run(inputs: TrendInputs, grain: str = "month") -> pd.DataFrame:
    """Return staggered-DiD program_impact rows for every program in ``inputs``."""
    return estimate(impact_panel(inputs, grain))


METHODS = (Method(
    name=NAME, kind="impact", grains=("month",), run=run,
    description="Staggered DiD (Callaway-Sant'Anna, not-yet-treated comparison) per area from its first program; "
                "placebo-in-time p and interval, placebo-in-space p in details",
),)

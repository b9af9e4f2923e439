"""Comparative interrupted time series with placebo-in-time inference: the headline impact method.

The program area's counts are compared with the summed counts of the comparison pool (areas with
no program and not adjacent to one), so the citywide fall of 2015-16, seasons and reporting
changes cancel. The estimate is the level change of the area's share at the start,

    RR = (Y_post / C_post) / (Y_pre / C_pre),

the Poisson maximum-likelihood estimate of a level shift with log C_t as offset. Inference does
not trust any standard error: the same statistic is computed at every other month the program
could have started (placebo starts in time, at least ``min_pre`` months before and ``min_post``
after), and p is the share of starts whose shift is at least as large as the real one. The
confidence set inverts that test (H0: post-period counts multiplied by r). This is valid when
the start month is as good as random with respect to the area's own ups and downs — true for
the demo programs, not for a program opened because of a recent rise. Calibration:
bench/impact_calibration.py.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.special import xlogy

from tasks.trends.impact_panel import (ImpactPanel, impact_frame, impact_panel, impact_row, programs_to_estimate,
                                       skipped_row, thin_reason)
from tasks.trends.placebo import in_time_p_values, invert_test
from tasks.trends.registry import Method, TrendInputs

NAME = "comparative_its"
# Measured by bench/impact_calibration.py on the real 2015-01..2018-10 drug-incident panel
# (docs/benchmarks.md): share of placebo programs flagged, coverage / power for a planted -20%.
CALIBRATION = {"placebo_fpr": 0.061, "coverage": 0.922, "power": 0.156, "n_placebo_programs": 360,
               "measured_on": "2026-12-01"}


def comparative_its(y: np.ndarray, comparison: np.ndarray, k: int, *, alpha: float = 0.05, min_pre: int = 12,
                    min_post: int = 6) -> dict:
    """Return the rate ratio at start index ``k`` of ``y`` against ``comparison`` with in-time placebo inference.

    ``y``, ``comparison``: counts per period (same length n). Candidate starts are s = min_pre ..
    n - min_post; the statistic at s is the Poisson likelihood ratio of a level change at s in
    the area's share of the counts, LR(s) = 2 [Y_a log(Y_a / E_a) + Y_b log(Y_b / E_b)] with Y the
    area's events before (a) and from (b) s and E = Y_total * C_segment / C_total. NOTE: a
    t-like statistic log RR(s) / sqrt(1/s + 1/(n-s)) was as calibrated but peaks away from a
    large step near the window's edge, which left 15% of the planted-effect intervals open
    ended against 2.5% with the LR (bench/impact_calibration.py, 240 programs). Returns
    estimate, ci_low, ci_high, p_value, n_placebos (other candidate starts), min_p, first/last
    candidate start, the four event sums, expected_post and the confidence set's flags.
    """
    y, comparison = np.asarray(y, dtype=float), np.asarray(comparison, dtype=float)
    n = len(y)
    starts = np.arange(min_pre, n - min_post + 1)
    actual = int(np.searchsorted(starts, k))
    if starts.size == 0 or actual >= starts.size or starts[actual] != k:
        raise ValueError(f"start index {k} is not a candidate start ({min_pre}..{n - min_post})")
    post = np.arange(n) >= k
    y_pre_part, y_post_part = np.cumsum(np.where(post, 0.0, y)), np.cumsum(np.where(post, y, 0.0))
    c_cum = np.cumsum(comparison)
    c_share = c_cum[starts - 1] / c_cum[-1]
    valid = (c_share > 0) & (c_share < 1)

    def stats(ratios: np.ndarray) -> np.ndarray:
        # H0: counts from k on are r times what they would have been; undo r, recompute LR(s).
        u = 1.0 / np.asarray(ratios, dtype=float)[:, None]
        cum = y_pre_part[None, :] + u * y_post_part[None, :]
        before = cum[:, starts - 1]
        after = cum[:, -1:] - before
        total = cum[:, -1:]
        with np.errstate(divide="ignore", invalid="ignore"):
            lr = 2 * (xlogy(before, before / (total * c_share)) + xlogy(after, after / (total * (1 - c_share))))
        return np.where(valid, lr, np.nan)

    p = float(in_time_p_values(stats(np.array([1.0])), actual)[0])
    ci = invert_test(lambda grid: in_time_p_values(stats(grid), actual), alpha)
    sums = {"events_pre": float(y[~post].sum()), "events_post": float(y[post].sum()),
            "comparison_pre": float(comparison[~post].sum()), "comparison_post": float(comparison[post].sum())}
    ok = min(sums.values()) > 0
    estimate = ((sums["events_post"] / sums["comparison_post"]) / (sums["events_pre"] / sums["comparison_pre"])
                if ok else math.nan)
    expected = sums["events_pre"] * sums["comparison_post"] / sums["comparison_pre"] if ok else math.nan
    return {"estimate": estimate, "ci_low": ci["ci_low"], "ci_high": ci["ci_high"], "p_value": p,
            "n_placebos": int(valid.sum() - 1), "min_p": 1.0 / valid.sum(),
            "first_start": int(starts[0]), "last_start": int(starts[-1]), **sums, "expected_post": expected,
            **{f"ci_{key}": ci[key] for key in ("open_low", "open_high", "gaps", "empty")}}


def estimate(panel: ImpactPanel) -> pd.DataFrame:
    """Return one comparative-ITS row per program of ``panel`` (PROGRAM_IMPACT_COLUMNS)."""
    prm = panel.params
    pool = [a for a in panel.pool]
    comparison = panel.matrix(pool).sum(axis=1) if pool else np.zeros(len(panel.periods))
    rows = []
    for prog in programs_to_estimate(panel).itertuples(index=False):
        reason = thin_reason(panel, prog) or (None if comparison.sum() > 0 else "no comparison area has events")
        if reason:
            rows.append(skipped_row(panel, prog, NAME, reason))
            continue
        got = comparative_its(panel.column(prog.neighborhood_id), comparison, prog.k, alpha=prm["alpha"],
                              min_pre=prm["min_pre"], min_post=prm["min_post"])
        details = {
            "metric": panel.metric, "grain": panel.grain, "start_period": panel.periods[prog.k],
            "comparison": "sum of the comparison pool's counts", "n_comparison_areas": len(pool),
            "excluded_program_areas": sorted(panel.treated), "excluded_adjacent_areas": sorted(panel.spillover),
            "inference": "placebo-in-time: the same shift at every other candidate start",
            "statistic": "Poisson likelihood ratio of a level change in the area's share of counts at s",
            "interval": "test inversion: rate ratios r whose in-time p > alpha (post counts divided by r)",
            "candidate_starts": [panel.periods[got["first_start"]], panel.periods[got["last_start"]]],
            "n_distinct_placebos": got["n_placebos"], "min_attainable_p": got["min_p"],
            "alpha": prm["alpha"], "earlier_programs_in_area": list(prog.earlier),
            "exploratory": False, "calibration": CALIBRATION,
            **{key: got[key] for key in ("events_pre", "events_post", "comparison_pre", "comparison_post",
                                         "expected_post", "ci_open_low", "ci_open_high", "ci_gaps", "ci_empty")},
        }
        rows.append(impact_row(prog, NAME, estimate=got["estimate"], ci_low=got["ci_low"], ci_high=got["ci_high"],
                               p_value=got["p_value"], n_pre=prog.k, n_post=len(panel.periods) - prog.k,
                               details=details))
    return impact_frame(rows)


def run(inputs: TrendInputs, grain: str = "month") -> pd.DataFrame:
    """Return comparative-ITS program_impact rows for every program in ``inputs``."""
    return estimate(impact_panel(inputs, grain))


METHODS = (Method(
    name=NAME, kind="impact", grains=("month",), run=run, headline=True,
    description="Comparative ITS: the program area's share of comparison-area counts before vs after the start; "
                "placebo-in-time p and test-inversion interval",
),)

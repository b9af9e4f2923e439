"""Synthetic control per program (Abadie, Diamond & Hainmueller 2010) with placebo-in-space inference.

Each series is indexed to its own pre-period mean (so a convex combination of donors can match a
high-incidence area's shape, not its level), the weights minimise the pre-period squared gap
under w >= 0, sum w = 1 (every pre-period month as a predictor, V = identity), and the
counterfactual is the treated area's pre-period mean times the weighted donor index. Donors are
the comparison pool's areas with at least ``min_donor_mean`` events per period before the start.

Inference (Abadie et al. 2010; Firpo & Possebom 2018): every donor in turn is treated as if it
had the program and fitted from the others; p is the rank of the treated area's post/pre RMSPE
ratio among them (smallest attainable 1 / (donors + 1)). The interval inverts that test under a
constant multiplicative effect r (treated post counts divided by r; the placebos do not change).
Calibration on placebo programs (bench/impact_calibration.py, CALIBRATION): p < 0.05 for 34% of
them. NOTE: two of the seven demo areas left every comparable area behind after 2016 (North
Lawndale's share of the city's drug incidents doubled in 2016-Q4, Humboldt Park's drifted to
twice its 2015 share), so a placebo program there that starts before the divergence is
"significant" against every donor. Placebo-in-space inference cannot know that an area is
about to diverge; hence exploratory, never the headline.
"""
from __future__ import annotations

import hashlib
import math

import numpy as np
import pandas as pd
from scipy.optimize import nnls

from tasks.trends.impact_panel import (ImpactPanel, impact_frame, impact_panel, impact_row, programs_to_estimate,
                                       skipped_row, thin_reason)
from tasks.trends.placebo import invert_test, rank_p_value
from tasks.trends.registry import Method, TrendInputs

NAME = "synthetic_control"
# Measured by bench/impact_calibration.py (docs/benchmarks.md): p < 0.05 for 34% of placebo programs.
CALIBRATION = {"placebo_fpr": 0.344, "placebo_ci_excludes_1": 0.194, "coverage": 0.656, "power": 0.319,
               "n_placebo_programs": 360, "measured_on": "2026-12-01"}
EXPLORATORY = True  # fails calibration on placebo programs (CALIBRATION): never the headline
_PLACEBO_CACHE: dict[tuple, np.ndarray] = {}
_CACHE_SIZE = 256


def simplex_weights(donors: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Return w >= 0 with sum(w) = 1 minimising ||target - donors @ w||^2 (donors: periods x units).

    Solved as non-negative least squares with the sum-to-one constraint as one heavily weighted
    extra row (Lawson-Hanson, scipy ``nnls``), then renormalised. NOTE: pysyncon's SLSQP solver
    for the same problem (``VanillaOptimMixin.w_optimize`` with V = I) gives the same weights to
    1e-4 (tests) but took ~50 ms per fit here against ~1 ms, and the placebo inference needs one
    fit per donor and start month.
    """
    big = 1e3 * max(1.0, float(np.abs(donors).max()), float(np.abs(target).max()))
    a = np.vstack([donors, np.full(donors.shape[1], big)])
    b = np.append(target, big)
    w, _ = nnls(a, b, maxiter=50 * donors.shape[1])
    total = w.sum()
    return w / total if total > 0 else np.full(donors.shape[1], 1.0 / donors.shape[1])


def synthetic_path(y: np.ndarray, donors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (treated index, synthetic index, weights) with indices relative to each series' mean before ``k``."""
    ty = y / y[:k].mean()
    td = donors / donors[:k].mean(axis=0)
    w = simplex_weights(td[:k], ty[:k])
    return ty, td @ w, w


def rmspe_ratio(gap: np.ndarray, k: int) -> float:
    """Return post/pre root-mean-squared prediction error of ``gap`` around start index ``k``."""
    pre = math.sqrt(float(np.mean(gap[:k] ** 2)))
    return math.sqrt(float(np.mean(gap[k:] ** 2))) / pre if pre > 0 else math.inf


def placebo_ratios(donors: np.ndarray, k: int) -> np.ndarray:
    """Return each donor's RMSPE ratio when it is fitted from the other donors (cached per matrix and k)."""
    key = (hashlib.sha1(np.ascontiguousarray(donors).tobytes()).hexdigest(), donors.shape, k)
    if key not in _PLACEBO_CACHE:
        out = np.empty(donors.shape[1])
        for j in range(donors.shape[1]):
            ty, synth, _ = synthetic_path(donors[:, j], np.delete(donors, j, axis=1), k)
            out[j] = rmspe_ratio(ty - synth, k)
        if len(_PLACEBO_CACHE) >= _CACHE_SIZE:
            _PLACEBO_CACHE.pop(next(iter(_PLACEBO_CACHE)))
        _PLACEBO_CACHE[key] = out
    return _PLACEBO_CACHE[key]


def synthetic_control(y: np.ndarray, donors: np.ndarray, k: int, *, alpha: float = 0.05) -> dict:
    """Return the synthetic-control rate ratio for ``y`` from start index ``k`` with placebo-in-space inference.

    ``donors``: periods x donor counts, each with events before ``k``. Returns estimate
    (observed / synthetic post-period counts), ci_low, ci_high, p_value, n_placebos, min_p,
    weights, rmspe_pre (index units), rmspe_ratio, expected_post and the interval's flags.
    """
    y = np.asarray(y, dtype=float)
    ty, synth, w = synthetic_path(y, donors, k)
    ratio = rmspe_ratio(ty - synth, k)
    placebos = placebo_ratios(donors, k)
    p = rank_p_value(ratio, placebos)
    rm_pre = math.sqrt(float(np.mean((ty - synth)[:k] ** 2)))

    ordered = np.sort(placebos[np.isfinite(placebos)])

    def p_of(grid: np.ndarray) -> np.ndarray:
        # Same count as rank_p_value, vectorised over the hypothesised rate ratios.
        gaps = ty[None, k:] / grid[:, None] - synth[None, k:]
        stat = np.sqrt(np.mean(gaps ** 2, axis=1)) / rm_pre if rm_pre > 0 else np.full(grid.size, np.inf)
        at_least = ordered.size - np.searchsorted(ordered, stat - 1e-9 * np.maximum(1.0, stat), side="left")
        return (1 + at_least) / (ordered.size + 1)

    ci = invert_test(p_of, alpha)
    expected = float(synth[k:].sum() * y[:k].mean())
    return {"estimate": float(y[k:].sum() / expected) if expected > 0 else math.nan, "ci_low": ci["ci_low"],
            "ci_high": ci["ci_high"], "p_value": p["p_value"], "n_placebos": p["n_placebos"], "min_p": p["min_p"],
            "weights": w, "rmspe_pre": rm_pre, "rmspe_ratio": ratio, "expected_post": expected,
            **{f"ci_{key}": ci[key] for key in ("open_low", "open_high", "gaps", "empty")}}


def estimate(panel: ImpactPanel) -> pd.DataFrame:
    """Return one synthetic-control row per program of ``panel`` (PROGRAM_IMPACT_COLUMNS)."""
    prm = panel.params
    pool = np.array(panel.pool, dtype=object)
    pool_counts = panel.matrix(panel.pool) if len(pool) else np.zeros((len(panel.periods), 0))
    rows = []
    for prog in programs_to_estimate(panel).itertuples(index=False):
        reason = thin_reason(panel, prog)
        pre_mean = pool_counts[: max(prog.k, 1)].mean(axis=0)
        keep = (pre_mean >= prm["min_donor_mean"]) & (pre_mean > 0)
        if not reason and keep.sum() < 2:
            reason = f"fewer than 2 donor areas with {prm['min_donor_mean']} events per {panel.grain}"
        if reason:
            rows.append(skipped_row(panel, prog, NAME, reason, exploratory=EXPLORATORY))
            continue
        got = synthetic_control(panel.column(prog.neighborhood_id), pool_counts[:, keep], prog.k, alpha=prm["alpha"])
        weights = {str(a): round(float(v), 4) for a, v in zip(pool[keep], got["weights"]) if v >= 0.005}
        details = {
            "metric": panel.metric, "grain": panel.grain, "start_period": panel.periods[prog.k],
            "outcome": "counts indexed to each area's pre-period mean", "weights": weights,
            "weights_by": "constrained least squares on every pre-period index value (V = I), scipy nnls",
            "n_donors": int(keep.sum()), "excluded_program_areas": sorted(panel.treated),
            "excluded_adjacent_areas": sorted(panel.spillover), "min_donor_mean": prm["min_donor_mean"],
            "inference": "placebo-in-space: each donor fitted from the others, rank of post/pre RMSPE ratio",
            "interval": "test inversion (Firpo & Possebom 2018): constant rate ratio r, post counts divided by r",
            "n_distinct_placebos": got["n_placebos"], "min_attainable_p": got["min_p"], "alpha": prm["alpha"],
            "rmspe_pre_index": got["rmspe_pre"], "rmspe_ratio": got["rmspe_ratio"],
            "expected_post": got["expected_post"], "earlier_programs_in_area": list(prog.earlier),
            "exploratory": EXPLORATORY, "calibration": CALIBRATION,
            **{key: got[key] for key in ("ci_open_low", "ci_open_high", "ci_gaps", "ci_empty")},
        }
        rows.append(impact_row(prog, NAME, estimate=got["estimate"], ci_low=got["ci_low"], ci_high=got["ci_high"],
                               p_value=got["p_value"], n_pre=prog.k, n_post=len(panel.periods) - prog.k,
                               details=details))
    return impact_frame(rows)


def run(inputs: TrendInputs, grain: str = "month") -> pd.DataFrame:
    """Return synthetic-control program_impact rows for every program in ``inputs``."""
    return estimate(impact_panel(inputs, grain))


METHODS = (Method(
    name=NAME, kind="impact", grains=("month",), run=run,
    description="Synthetic control (indexed counts, convex donor weights); placebo-in-space RMSPE-ratio p and "
                "test-inversion interval; exploratory: fails calibration on placebo programs",
),)

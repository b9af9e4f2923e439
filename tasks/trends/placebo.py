"""Permutation (placebo) inference shared by the impact estimators: p-values with their resolution,
distinct placebo sets, confidence sets by test inversion, and false-discovery control.

A placebo p-value can be no smaller than 1 / (number of distinct placebos + 1); every result here
says how many distinct placebos it had and that smallest attainable p, so "p = 0.005 from 199
draws" can no longer be reported when only 3 distinct placebos exist.
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import numpy as np
from statsmodels.stats.multitest import multipletests

# Ties within this relative tolerance count as "at least as extreme" (conservative).
_TIE = 1e-9
# Rate ratios searched when a confidence set is found by test inversion: 0.05 .. 20 in 0.5% steps,
# with exactly 1.0 in the middle (exp of a float sum is 0.9999999999999998 there otherwise).
RATE_RATIO_GRID = np.exp(np.linspace(-math.log(20.0), math.log(20.0), 1201))
RATE_RATIO_GRID[600] = 1.0


def rank_p_value(observed: float, placebos: np.ndarray) -> dict:
    """Return the permutation p-value of ``observed`` against ``placebos`` (larger = more extreme).

    p = (1 + #{placebo >= observed}) / (n + 1), counting the observed assignment itself, so the
    smallest attainable p is 1 / (n + 1). Non-finite placebos are dropped (and counted out of n).
    Returns p_value, n_placebos, min_p.
    """
    placebos = np.asarray(placebos, dtype=float)
    placebos = placebos[np.isfinite(placebos)]
    n = int(placebos.size)
    if not math.isfinite(observed):
        return {"p_value": math.nan, "n_placebos": n, "min_p": 1.0 / (n + 1)}
    at_least = int((placebos >= observed - _TIE * max(1.0, abs(observed))).sum())
    return {"p_value": (1 + at_least) / (n + 1), "n_placebos": n, "min_p": 1.0 / (n + 1)}


def placebo_sets(n_pool: int, size: int, max_sets: int = 999, seed: int = 0) -> np.ndarray:
    """Return distinct placebo assignments: a boolean matrix (sets x n_pool), each row ``size`` members.

    All C(n_pool, size) combinations when there are at most ``max_sets`` of them, else
    ``max_sets`` distinct random ones (seeded). ``size`` is capped at n_pool - 1 so each placebo
    keeps at least one comparison unit. Three treated and three comparison units give C(3, 2) = 3
    distinct placebos, never 199.
    """
    size = min(size, n_pool - 1)
    if size < 1:
        return np.zeros((0, n_pool), dtype=bool)
    total = math.comb(n_pool, size)
    if total <= max_sets:
        combos = list(itertools.combinations(range(n_pool), size))
    else:
        rng, found = np.random.default_rng(seed), set()
        while len(found) < max_sets:
            found.add(tuple(sorted(rng.choice(n_pool, size=size, replace=False).tolist())))
        combos = sorted(found)
    out = np.zeros((len(combos), n_pool), dtype=bool)
    for row, combo in enumerate(combos):
        out[row, list(combo)] = True
    return out


def in_time_p_values(stats: np.ndarray, actual: int) -> np.ndarray:
    """Return, per row of ``stats`` (hypotheses x candidate starts), the in-time placebo p of column ``actual``.

    Each row holds a statistic at every candidate start; the others are placebo starts.
    p = #{starts with |T| >= |T_actual|} / #{finite starts}: smallest attainable 1 / #starts.
    """
    mag = np.abs(np.atleast_2d(stats))
    obs = mag[:, [actual]]
    finite = np.isfinite(mag)
    hits = ((mag >= obs - _TIE * np.maximum(1.0, obs)) & finite).sum(axis=1)
    p = hits / finite.sum(axis=1)
    p[~np.isfinite(obs[:, 0])] = np.nan
    return p


def invert_test(p_of: Callable[[np.ndarray], np.ndarray], alpha: float,
                grid: np.ndarray = RATE_RATIO_GRID) -> dict:
    """Return the (1 - alpha) confidence set for a rate ratio r by inverting a permutation test.

    ``p_of(r)`` gives the p-value of H0: "the program multiplied the post-period counts by r"
    for each r in ``grid``; r is kept when p > alpha. Returns ci_low/ci_high (the hull of the kept
    values), open_low/open_high (the set reaches the searched range's end: the bound is only
    "at most"/"at least" it), gaps (the kept set is not one interval), empty (no r kept).
    """
    p = np.asarray(p_of(grid), dtype=float)
    keep = p > alpha
    if not keep.any():
        return {"ci_low": math.nan, "ci_high": math.nan, "open_low": False, "open_high": False,
                "gaps": False, "empty": True}
    idx = np.flatnonzero(keep)
    return {"ci_low": float(grid[idx[0]]), "ci_high": float(grid[idx[-1]]), "open_low": bool(idx[0] == 0),
            "open_high": bool(idx[-1] == len(grid) - 1), "gaps": bool(idx[-1] - idx[0] + 1 != idx.size),
            "empty": False}


def benjamini_hochberg(p_values) -> np.ndarray:
    """Return Benjamini-Hochberg q-values (statsmodels ``fdr_bh``); NaN p-values stay NaN and are not counted."""
    p = np.asarray(p_values, dtype=float)
    q = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        q[ok] = multipletests(p[ok], method="fdr_bh")[1]
    return q

"""Emerging hot spot analysis over the neighborhood x month cube (space-time Gi*, FDR, Mann-Kendall).

Follows Esri's "Emerging Hot Spot Analysis": a bin's neighbours are the contiguous areas (an
island's: its nearest areas), the area itself and the same set in the previous time step; each bin
gets a Getis-Ord Gi* z; bins are hot/cold after a Benjamini-Hochberg correction per time step;
Mann-Kendall runs on each area's z series; areas are classified into new / consecutive /
intensifying / persistent / diminishing / sporadic / oscillating / historical hot or cold spots.
Definitions and choices: docs/methods.md.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import pymannkendall as mk
from libpysal.weights import W
from scipy import stats
from statsmodels.stats.multitest import multipletests

from schemas.errors import InputError
from tasks.trends.adjacency import WeightsRule, area_weights
from tasks.trends.series import complete_calendar, details_json, period_end, trend_signals_frame

METHOD = "emerging_hotspot"
GLOBAL_WINDOWS = ("neighborhood_time_step", "entire_cube")
GI_COLUMNS = ["neighborhood_id", "period_start", "gi_z", "p_value", "p_fdr", "is_significant", "bin"]
SHARE_RULE = 0.9  # Esri's "90 percent of the time-step intervals"


def space_time_weights(neighborhoods_gdf, id_field: str = "neighborhood_id",
                       weights: WeightsRule | Mapping | None = None) -> W:
    """Return binary spatial weights among the areas, ids = ``id_field`` values (no self-links).

    Contiguity per ``weights`` (default queen); an area with no contiguous neighbour (an island or
    exclave) gets its k nearest areas or a distance band, both ways (``tasks.trends.adjacency``).
    The space-time neighbourhood (self + previous step) is added by ``stack_weights``.
    Raises InputError on duplicate ids, ConfigError on a bad ``weights`` rule.
    """
    return area_weights(neighborhoods_gdf, id_field, weights)


def stack_weights(w: W, n_periods: int, time_lags: int = 1) -> W:
    """Return binary space-time weights over ids ``(area, t)``, t = 0..n_periods-1, self-links included.

    Bin (i, t) neighbours: (i, t) itself, (j, t) for j contiguous to i, and (i, s), (j, s) for the
    ``time_lags`` previous steps s (fewer at the start of the cube). Used for Gi* (star) as in
    Esri's space-time cube.
    """
    neighbors, weights = {}, {}
    for t in range(n_periods):
        for i in w.id_order:
            spatial = [i, *w.neighbors[i]]
            nbrs = [(j, s) for s in range(max(0, t - time_lags), t + 1) for j in spatial]
            neighbors[(i, t)] = nbrs
            weights[(i, t)] = [1.0] * len(nbrs)
    return W(neighbors, weights, id_order=[(i, t) for t in range(n_periods) for i in w.id_order],
             silence_warnings=True)


def gi_star_space_time(
    cube: pd.DataFrame,
    w: W,
    alpha: float = 0.05,
    global_window: str = "neighborhood_time_step",
    time_lags: int = 1,
    permutations: int = 0,
    seed: int | None = 12345,
) -> pd.DataFrame:
    """Return one row per (neighborhood, month) bin: Gi* z, p, BH-adjusted p and hot/cold flag.

    ``cube`` is a long monthly frame (``neighborhood_id``, ``period_start``, ``value``); absent
    months are zeros; rows with a null neighborhood (citywide) are not areas and are ignored.
    Gi* is the closed-form Getis-Ord z with binary space-time weights (``stack_weights``). The
    mean and sd it compares against come from the bins of the same time neighbourhood
    (``neighborhood_time_step``: steps t-lags..t) or from every bin (``entire_cube``). p is the
    two-sided normal p, or with ``permutations`` > 0 twice esda's folded conditional-permutation
    pseudo p. ``bin`` is 'hot', 'cold' or 'none' after BH at ``alpha`` within each time step.
    """
    if global_window not in GLOBAL_WINDOWS:
        raise ValueError(f"global_window must be one of {GLOBAL_WINDOWS}")
    ids = [str(i) for i in w.id_order]
    x, months = _cube_matrix(cube, ids)
    t_len, n = x.shape
    a = np.asarray(w.sparse.todense()) != 0
    np.fill_diagonal(a, True)  # Gi*: the area is its own neighbour
    spatial_sum = x @ a.T.astype(float)  # (T, N): sum over area + contiguous areas at the same step
    card_space = a.sum(axis=1).astype(float)
    z = np.empty_like(x)
    for t in range(t_len):
        lo = max(0, t - time_lags)
        local = spatial_sum[lo:t + 1].sum(axis=0)
        card = card_space * (t + 1 - lo)
        window = x[lo:t + 1] if global_window == "neighborhood_time_step" else x
        z[t] = _gi_z(local, card, window)
    if permutations > 0:
        p = _permutation_p(x, w, global_window, time_lags, permutations, seed)
    else:
        p = 2.0 * stats.norm.sf(np.abs(z))
    p_fdr = np.vstack([multipletests(row, alpha=alpha, method="fdr_bh")[1] for row in p])
    significant = p_fdr <= alpha
    label = np.where(significant & (z > 0), "hot", np.where(significant & (z < 0), "cold", "none"))
    return pd.DataFrame({
        "neighborhood_id": np.tile(np.array(ids, dtype=object), t_len),
        "period_start": np.repeat(months, n),
        "gi_z": z.ravel(),
        "p_value": p.ravel(),
        "p_fdr": p_fdr.ravel(),
        "is_significant": significant.ravel(),
        "bin": label.ravel(),
    })[GI_COLUMNS]


def classify_emerging(z: np.ndarray, significant: np.ndarray, mk_z: float, mk_p: float, alpha: float = 0.05) -> str:
    """Return the Esri emerging hot spot category of one area from its Gi* z series and significance flags.

    ``mk_z``/``mk_p`` are the Mann-Kendall z and p of the z series. Rules (docs/methods.md): the
    final step decides the branch (hot, cold, or neither); ">= 90 percent" means at least 90% of
    all steps; a cold history turns a final hot spot into 'oscillating' (and vice versa).
    """
    z = np.asarray(z, dtype=float)
    sig = np.asarray(significant, dtype=bool)
    hot, cold = sig & (z > 0), sig & (z < 0)
    trend_up = mk_p < alpha and mk_z > 0
    trend_down = mk_p < alpha and mk_z < 0
    if hot[-1]:
        return _branch("hot", hot, cold, trend_up, trend_down)
    if cold[-1]:
        return _branch("cold", cold, hot, trend_down, trend_up)
    if hot.mean() >= SHARE_RULE:
        return "historical_hot_spot"
    if cold.mean() >= SHARE_RULE:
        return "historical_cold_spot"
    return "no_pattern"


def emerging_hotspots(
    cube: pd.DataFrame,
    neighborhoods_gdf,
    metric: str,
    permutations: int = 0,
    alpha: float = 0.05,
    seed: int | None = 12345,
    id_field: str = "neighborhood_id",
    global_window: str = "neighborhood_time_step",
    time_lags: int = 1,
    weights: WeightsRule | Mapping | None = None,
) -> pd.DataFrame:
    """Return one trend_signals row per area for the whole cube: the emerging hot spot category.

    ``statistic``/``p_value`` are the Mann-Kendall z and p of the area's Gi* z series, ``score``
    the Gi* z of the final month, ``level`` the category ('new_hot_spot', ..., 'no_pattern').
    Areas in ``neighborhoods_gdf`` with no rows in ``cube`` are all-zero series; cube ids missing
    from the polygons raise InputError. See ``gi_star_space_time`` for the Gi* options and
    ``space_time_weights`` for ``weights`` (islands get k nearest areas by default).
    ``permutations`` defaults to 0 (analytic normal p, as Esri): with 199 the smallest two-sided
    pseudo p is 0.01, which Benjamini-Hochberg over 77 areas accepts only when ~16 bins of a month
    reach it, so on the real narcotics cube Austin (hot in 46 of 46 months analytically) came
    out hot in 2 months and 'sporadic'. Use permutations only with >= 2 * areas / alpha draws.
    """
    w = space_time_weights(neighborhoods_gdf, id_field, weights)
    attached = set(w.islands_attached)
    bins = gi_star_space_time(cube, w, alpha=alpha, global_window=global_window, time_lags=time_lags,
                              permutations=permutations, seed=seed)
    months = bins["period_start"].drop_duplicates().sort_values()
    if len(months) < 4:
        raise InputError("cube", f"covers {len(months)} months; the Mann-Kendall step needs at least 4",
                         "Pass a longer cube")
    start, end = months.iloc[0], period_end(months.iloc[-1], "MS")
    rows = []
    for area, g in bins.groupby("neighborhood_id", sort=False):
        z = g["gi_z"].to_numpy()
        sig = g["is_significant"].to_numpy()
        res = mk.original_test(z, alpha=alpha)
        category = classify_emerging(z, sig, res.z, res.p, alpha)
        labels = g["bin"].to_numpy()
        rows.append({
            "neighborhood_id": area, "metric": metric, "period_start": start, "period_end": end,
            "method": METHOD, "statistic": float(res.z), "p_value": float(res.p), "score": float(z[-1]),
            "level": category,
            "details": details_json({
                "mk_tau": res.Tau, "mk_s": res.s, "mk_trend": res.trend.replace(" ", "_"),
                "n_steps": len(z), "n_hot": int((labels == "hot").sum()), "n_cold": int((labels == "cold").sum()),
                "final_z": z[-1], "final_p_fdr": g["p_fdr"].iloc[-1], "z_mean": z.mean(), "z_min": z.min(),
                "z_max": z.max(), "bins": "".join({"hot": "H", "cold": "C"}.get(b, ".") for b in labels),
                "global_window": global_window, "time_lags": time_lags, "alpha": alpha,
                "p_source": f"permutation_{permutations}" if permutations else "normal",
                "fdr": "benjamini_hochberg_per_time_step", "weights": w.rule.rule,
                "neighbours_from": w.rule.islands if area in attached else "contiguity",
            }),
        })
    rows.sort(key=lambda r: (not r["neighborhood_id"].isdigit(), int(r["neighborhood_id"])
                             if r["neighborhood_id"].isdigit() else 0, r["neighborhood_id"]))
    return trend_signals_frame(rows)


# ---------------------------------------------------------------------------------------------
def _branch(kind: str, same: np.ndarray, other: np.ndarray, strengthening: bool, weakening: bool) -> str:
    """Category for an area whose final step is a significant ``kind`` ('hot'/'cold') spot."""
    if same.mean() >= SHARE_RULE:
        if strengthening:
            return f"intensifying_{kind}_spot"
        if weakening:
            return f"diminishing_{kind}_spot"
        return f"persistent_{kind}_spot"
    if other[:-1].any():
        return f"oscillating_{kind}_spot"
    run = len(same) - np.flatnonzero(~same)[-1] - 1 if (~same).any() else len(same)
    if same[: len(same) - run].any():
        return f"sporadic_{kind}_spot"
    return f"new_{kind}_spot" if run == 1 else f"consecutive_{kind}_spot"


def _gi_z(local_sum: np.ndarray, card: np.ndarray, window: np.ndarray) -> np.ndarray:
    """Getis-Ord Gi* z for binary weights: (sum - mean*c) / (s * sqrt((n*c - c^2) / (n - 1)))."""
    values = window.ravel()
    n = values.size
    mean = values.mean()
    s = values.std(ddof=0)
    if s == 0:
        # A constant window has no clustering to detect; z = 0 keeps the bin not significant.
        return np.zeros_like(local_sum)
    spread = n * card - card**2
    z = np.zeros_like(local_sum)
    # spread = 0 when a bin's neighbourhood is the whole window (tiny lattices): no local contrast.
    ok = spread > 0
    z[ok] = (local_sum[ok] - mean * card[ok]) / (s * np.sqrt(spread[ok] / (n - 1)))
    return z


def _permutation_p(x, w, global_window, time_lags, permutations, seed) -> np.ndarray:
    """Two-sided conditional-permutation p per bin from esda's G_Local on the stacked weights."""
    from esda.getisord import G_Local  # slow import; only this path needs it

    t_len, n = x.shape
    p = np.empty_like(x)
    if global_window == "entire_cube":
        g = G_Local(x.ravel(), stack_weights(w, t_len, time_lags), transform="B", star=True,
                    permutations=permutations, seed=seed, keep_simulations=False)
        return np.minimum(1.0, 2.0 * g.p_sim).reshape(t_len, n)
    for t in range(t_len):
        lo = max(0, t - time_lags)
        g = G_Local(x[lo:t + 1].ravel(), stack_weights(w, t + 1 - lo, time_lags), transform="B", star=True,
                    permutations=permutations, seed=None if seed is None else seed + t, keep_simulations=False)
        p[t] = np.minimum(1.0, 2.0 * g.p_sim[-n:])
    return p


def _cube_matrix(cube: pd.DataFrame, ids: list[str]) -> tuple[np.ndarray, pd.DatetimeIndex]:
    """Return the (month x area) value matrix in ``ids`` order and the months, zeros where absent."""
    for col in ("neighborhood_id", "period_start", "value"):
        if col not in cube.columns:
            raise InputError("cube", f"missing column {col}", "Pass neighborhood_id, period_start, value")
    areas = cube[cube["neighborhood_id"].notna()]
    unknown = ~areas["neighborhood_id"].astype("str").isin(ids)
    if unknown.any():
        row = areas.index[unknown.to_numpy()][0]
        raise InputError(f"cube row {row}", f"neighborhood_id {areas.at[row, 'neighborhood_id']!r} is not "
                         "one of the neighborhood polygons", "Fix the id or pass the matching polygons")
    long = complete_calendar(areas, "MS", ids=ids, where="cube")
    wide = long.pivot(index="period_start", columns="neighborhood_id", values="value")[ids]
    return wide.to_numpy(dtype=float), wide.index

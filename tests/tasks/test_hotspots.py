"""Tests for tasks.trends.hotspots: space-time Gi* against independent formulas, FDR, Esri categories."""
from __future__ import annotations

import json
import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from libpysal.weights import W
from shapely.geometry import box
from statsmodels.stats.multitest import multipletests

from schemas.errors import InputError
from tasks.trends.hotspots import (
    classify_emerging,
    emerging_hotspots,
    gi_star_space_time,
    space_time_weights,
    stack_weights,
)
from schemas.trend_results import TREND_SIGNAL_COLUMNS

# 3 x 3 rook lattice, written out by hand:  a b c / d e f / g h i
ROOK_3X3 = {
    "a": ["b", "d"], "b": ["a", "c", "e"], "c": ["b", "f"],
    "d": ["a", "e", "g"], "e": ["b", "d", "f", "h"], "f": ["c", "e", "i"],
    "g": ["d", "h"], "h": ["e", "g", "i"], "i": ["f", "h"],
}
AREAS = list(ROOK_3X3)
VALUES = np.array([  # 3 months x 9 areas
    [4, 9, 2, 7, 12, 3, 1, 5, 8],
    [6, 11, 3, 5, 15, 2, 0, 4, 9],
    [3, 14, 1, 6, 18, 4, 2, 3, 10],
], dtype=float)
MONTHS = pd.date_range("2018-01-01", periods=3, freq="MS")


def lattice_cube(values=VALUES, months=MONTHS):
    t_len, n = values.shape
    return pd.DataFrame({"neighborhood_id": np.tile(AREAS, t_len), "period_start": np.repeat(months, n),
                         "value": values.ravel()})


def textbook_gi_star(values, t, i, window_steps):
    """Getis-Ord (1992/1995) Gi* with binary weights, looping over the hand-built neighbour lists."""
    nbrs = [(j, s) for s in range(max(0, t - 1), t + 1) for j in [AREAS[i], *ROOK_3X3[AREAS[i]]]]
    xs = [values[s, AREAS.index(j)] for j, s in nbrs]
    universe = [values[s, k] for s in window_steps for k in range(len(AREAS))]
    n = len(universe)
    mean = sum(universe) / n
    s_dev = math.sqrt(sum(v * v for v in universe) / n - mean * mean)
    w_sum = len(xs)  # binary weights: sum w = sum w^2 = number of neighbours
    return (sum(xs) - mean * w_sum) / (s_dev * math.sqrt((n * w_sum - w_sum**2) / (n - 1)))


@pytest.mark.parametrize("window", ["neighborhood_time_step", "entire_cube"])
def test_gi_star_matches_the_textbook_formula(window):
    got = gi_star_space_time(lattice_cube(), W(ROOK_3X3), global_window=window)
    for t in range(3):
        steps = range(max(0, t - 1), t + 1) if window == "neighborhood_time_step" else range(3)
        for i, area in enumerate(AREAS):
            z = got.loc[(got["neighborhood_id"] == area) & (got["period_start"] == MONTHS[t]), "gi_z"].item()
            assert z == pytest.approx(textbook_gi_star(VALUES, t, i, list(steps)), rel=1e-12)


def test_gi_star_entire_cube_matches_esda_on_stacked_weights():
    from esda.getisord import G_Local

    w = W(ROOK_3X3)
    got = gi_star_space_time(lattice_cube(), w, global_window="entire_cube")
    esda_z = G_Local(VALUES.ravel(), stack_weights(w, 3), transform="B", star=True, permutations=0).Zs
    np.testing.assert_allclose(got["gi_z"].to_numpy(), esda_z, rtol=1e-12)


def test_stacked_weights_link_self_space_and_previous_step():
    st = stack_weights(W(ROOK_3X3), 3)
    assert sorted(st.neighbors[("a", 0)]) == [("a", 0), ("b", 0), ("d", 0)]
    assert sorted(st.neighbors[("e", 2)]) == sorted(
        [(j, s) for s in (1, 2) for j in ["e", "b", "d", "f", "h"]])
    assert st.n == 27


def test_fdr_is_benjamini_hochberg_within_each_month():
    got = gi_star_space_time(lattice_cube(), W(ROOK_3X3), alpha=0.05)
    for _, month in got.groupby("period_start"):
        reject, adjusted, *_ = multipletests(month["p_value"], alpha=0.05, method="fdr_bh")
        np.testing.assert_allclose(month["p_fdr"], adjusted)
        assert (month["is_significant"].to_numpy() == reject).all()


def test_constant_month_gives_zero_z():
    values = VALUES.copy()
    values[0] = 5.0
    got = gi_star_space_time(lattice_cube(values), W(ROOK_3X3))
    assert (got.loc[got["period_start"] == MONTHS[0], "gi_z"] == 0).all()


def code(seq: str):
    """'H' significant hot bin, 'C' significant cold bin, '.' not significant."""
    z = np.array([{"H": 3.0, "C": -3.0, ".": 0.5}[c] for c in seq])
    return z, np.array([c != "." for c in seq])


UP, DOWN, FLAT = (3.0, 0.001), (-3.0, 0.001), (0.4, 0.6)
CASES = [
    ("no_pattern", "....................", FLAT),
    ("new_hot_spot", "...................H", FLAT),
    ("consecutive_hot_spot", ".................HHH", UP),
    ("consecutive_hot_spot", "...HHHHHHHHHHHHHHHHH", UP),  # 17 of 20 = 85% < 90%
    ("intensifying_hot_spot", "..HHHHHHHHHHHHHHHHHH", UP),  # 18 of 20 = 90%
    ("persistent_hot_spot", "..HHHHHHHHHHHHHHHHHH", FLAT),
    ("diminishing_hot_spot", "HHHHHHHHHHHHHHHHHH.H", DOWN),
    ("sporadic_hot_spot", "..H...HH.....H.....H", FLAT),
    ("oscillating_hot_spot", "..C....HH.......C..H", FLAT),
    ("oscillating_hot_spot", "C..................H", FLAT),  # a cold history outranks 'new'
    ("historical_hot_spot", "HHHHHHHHHHHHHHHHHHH.", DOWN),
    ("new_cold_spot", "...................C", FLAT),
    ("consecutive_cold_spot", "..................CC", DOWN),
    ("intensifying_cold_spot", "CC.CCCCCCCCCCCCCCCCC", DOWN),
    ("persistent_cold_spot", ".CCCCCCCCCCCCCCCCCCC", FLAT),
    ("diminishing_cold_spot", "CC.CCCCCCCCCCCCCCCCC", UP),
    ("sporadic_cold_spot", ".C..C.........CC...C", FLAT),
    ("oscillating_cold_spot", "HHHHHHHHHHHHHHHHHHHC", FLAT),  # >= 90% hot but the final step is cold
    ("historical_cold_spot", "CCCCCCCCCCCCCCCCCC..", UP),
    ("no_pattern", "..HHH...............", FLAT),  # hot once, not at the end, < 90%
]


@pytest.mark.parametrize(("category", "seq", "trend"), CASES,
                         ids=[f"{c}-{s}" for c, s, _ in CASES])
def test_classification_rules(category, seq, trend):
    z, sig = code(seq)
    assert classify_emerging(z, sig, *trend, alpha=0.05) == category


def grid_polygons(side=5):
    cells = [box(c, r, c + 1, r + 1) for r in range(side) for c in range(side)]
    return gpd.GeoDataFrame({"neighborhood_id": [str(k) for k in range(side * side)]}, geometry=cells,
                            crs="EPSG:3435")


def test_emerging_hotspots_finds_a_planted_hot_corner():
    gdf = grid_polygons()
    months = pd.date_range("2015-01-01", periods=30, freq="MS")
    rng = np.random.default_rng(7)
    lam = np.full((30, 25), 20.0)
    corner = [0, 1, 5, 6]  # cells (0,0), (0,1), (1,0), (1,1)
    lam[:, corner] = 60.0
    cube = pd.DataFrame({"neighborhood_id": np.tile(gdf["neighborhood_id"], 30), "period_start": np.repeat(months, 25),
                         "value": rng.poisson(lam).ravel()})
    got = emerging_hotspots(cube, gdf, "drug_incidents")
    assert list(got.columns) == TREND_SIGNAL_COLUMNS
    assert len(got) == 25
    levels = dict(zip(got["neighborhood_id"], got["level"]))
    assert levels["0"] == "persistent_hot_spot"
    assert sum(v == "no_pattern" for v in levels.values()) >= 15
    d = json.loads(got.loc[got["neighborhood_id"] == "0", "details"].item())
    assert d["n_hot"] >= 27 and d["bins"].count("H") == d["n_hot"]
    assert got["period_end"].iloc[0] == pd.Timestamp("2017-06-30")


def test_areas_without_rows_are_zero_series_and_unknown_ids_fail():
    gdf = grid_polygons(3)
    cube = lattice_cube().assign(neighborhood_id=lambda f: f["neighborhood_id"].map(dict(zip(AREAS, gdf["neighborhood_id"]))))
    months4 = pd.concat([cube, cube.assign(period_start=cube["period_start"] + pd.DateOffset(months=3))])
    got = emerging_hotspots(months4[months4["neighborhood_id"] != "8"], gdf, "m")
    assert len(got) == 9
    with pytest.raises(InputError, match="not one of the neighborhood polygons"):
        emerging_hotspots(months4.assign(neighborhood_id="99"), gdf, "m")


def test_permutation_p_values_are_bounded():
    got = gi_star_space_time(lattice_cube(), W(ROOK_3X3), permutations=99, seed=1)
    assert got["p_value"].between(2 / 100, 1).all()


def test_real_community_areas_are_all_contiguous(data_dir):
    gdf = gpd.read_file(data_dir / "chicago_boundaries" / "community_areas.geojson")
    w = space_time_weights(gdf, "area_numbe")
    assert w.n == 77 and not w.islands
    assert set(w.id_order) == {str(k) for k in range(1, 78)}

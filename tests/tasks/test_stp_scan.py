"""Tests for the space-time permutation scan: hand-computed expected counts and LLRs, the permutation
null against naive date shuffles, planted vs absent clusters, adjacency of members, the registry entry."""
from __future__ import annotations

import itertools
import json
import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from scipy import stats
from shapely.geometry import box

from schemas.errors import ConfigError, InputError
from schemas.trend_results import TREND_SIGNAL_COLUMNS
from tasks.trends.methods.stp_scan import ScanConfig, daily_matrix, run_stp_scan
from tasks.trends.registry import TrendInputs, alarm_mask, method
from tasks.trends.scan import (
    ProspectiveScan,
    ScanSettings,
    cylinders,
    null_max_llr,
    polygon_design,
    scan_clusters,
    scan_design,
)

# 3 areas in a row (a - b - c) x 4 days. C = 13; area totals a 6, b 4, c 3; day totals 3, 3, 3, 4.
TABLE = np.array([[1, 0, 2, 3],
                  [2, 1, 0, 1],
                  [0, 2, 1, 0]])
LINE = {"a": ["b"], "b": ["a", "c"], "c": ["b"]}
LINE_XY = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]])


def hand_llr(c, mu, total=13):
    """Kulldorff 2005: c ln(c/mu) + (C-c) ln((C-c)/(C-mu)) when c > mu, else 0."""
    if c <= mu:
        return 0.0
    return c * math.log(c / mu) + (total - c) * math.log((total - c) / (total - mu))


# (members, days) -> (observed, expected). 4 days: L = min(30, 4 // 2) = 2 windows (last day, last 2).
# Expected = (area totals of the zone) * (day totals of the window) / 13, written out by hand.
HAND = {
    (("a",), 1): (3, 6 * 4 / 13), (("a",), 2): (5, 6 * 7 / 13),
    (("a", "b"), 1): (4, 10 * 4 / 13), (("a", "b"), 2): (6, 10 * 7 / 13),
    (("b",), 1): (1, 4 * 4 / 13), (("b",), 2): (1, 4 * 7 / 13),
    (("b", "a"), 1): (4, 10 * 4 / 13), (("b", "a"), 2): (6, 10 * 7 / 13),  # tie a/c at distance 1: a first
    (("c",), 1): (0, 3 * 4 / 13), (("c",), 2): (1, 3 * 7 / 13),
    (("c", "b"), 1): (1, 7 * 4 / 13), (("c", "b"), 2): (2, 7 * 7 / 13),
}


def line_design(**caps):
    return scan_design(["a", "b", "c"], LINE, LINE_XY, **({"max_areas": 2, "max_area_share": 1.0} | caps))


def test_expected_counts_and_llr_match_the_hand_computed_table():
    got = cylinders(TABLE, line_design())
    assert len(got) == len(HAND)
    for row in got.itertuples():
        obs, exp = HAND[(row.member_ids, row.n_days)]
        assert row.observed == obs
        assert row.expected == pytest.approx(exp, rel=1e-12)
        assert row.llr == pytest.approx(hand_llr(obs, exp), rel=1e-12)
    # the largest: area a over the last 2 days, 5 observed vs 42/13 expected
    assert got["llr"].max() == pytest.approx(0.585218759523594, rel=1e-12)


def test_most_likely_cluster_on_the_hand_table():
    got = scan_clusters(TABLE, line_design(), ScanSettings(permutations=99, seed=1))
    assert len(got) == 1  # every other cylinder with c > mu contains a
    top = got.iloc[0]
    assert top["member_ids"] == ("a",) and (top["start"], top["end"], top["n_days"]) == (2, 3, 2)
    assert (top["observed"], top["expected"]) == (5.0, pytest.approx(42 / 13))
    assert top["llr"] == pytest.approx(0.585218759523594)
    assert 0.01 <= top["p_value"] <= 1 and top["recurrence_interval"] == pytest.approx(1 / top["p_value"])


def test_time_windows_end_on_the_last_day_and_stop_at_half_the_period():
    x = np.ones((3, 21), dtype=int)
    got = cylinders(x, line_design(), ScanSettings(max_days=30))
    assert got["n_days"].max() == 10  # 21 days: at most 50% of the period
    assert cylinders(x, line_design(), ScanSettings(max_days=7))["n_days"].max() == 7


def test_zones_grow_only_through_adjacent_areas():
    # d is the nearest centroid to a but touches only c: a circle would take {a, d}; we may not.
    neighbours = {"a": ["b"], "b": ["a", "c"], "c": ["b", "d"], "d": ["c"]}
    xy = np.array([[0, 0], [5, 0], [5, 5], [1, 1]], dtype=float)
    design = scan_design(list("abcd"), neighbours, xy, max_areas=4, max_area_share=1.0)
    assert design.members(0, 3) == ["a", "b", "c", "d"]
    assert design.members(0, 1) == ["a", "b"]
    assert design.members(3, 1) == ["d", "c"]


def test_zone_size_caps():
    design = line_design(max_areas=10, max_area_share=0.5)  # 50% of 3 areas -> 1
    assert design.order.shape[1] == 1
    capped = line_design(max_areas=3, population=np.array([100.0, 100.0, 800.0]), max_population_share=0.25)
    assert capped.valid[0].tolist() == [True, True, False]  # a, a+b (20%), not a+b+c
    assert capped.valid[2].tolist() == [True, False, False]  # c alone (80%) is kept: single areas always


def connected(members, neighbours):
    seen, todo = {members[0]}, [members[0]]
    while todo:
        for j in neighbours[todo.pop()]:
            if j in members and j not in seen:
                seen.add(j)
                todo.append(j)
    return seen == set(members)


def grid(side, crs="EPSG:3435"):
    cells = [box(c, r, c + 1, r + 1) for r in range(side) for c in range(side)]
    return gpd.GeoDataFrame({"neighborhood_id": [str(k) for k in range(side * side)]}, geometry=cells, crs=crs)


def brute_force_max_llr(x, design, max_days):
    """Independent loop: every zone of the design x every window ending on the last day."""
    total = x.sum()
    best = 0.0
    for c, k in itertools.product(range(design.order.shape[0]), range(design.order.shape[1])):
        if not design.valid[c, k]:
            continue
        rows = design.order[c, :k + 1]
        for days in range(1, max_days + 1):
            obs = x[rows, -days:].sum()
            mu = x[rows].sum() * x[:, -days:].sum() / total
            if obs >= 2:
                best = max(best, hand_llr(obs, mu, total))
    return best


def test_scan_matches_a_brute_force_loop_on_random_data():
    rng = np.random.default_rng(3)
    x = rng.poisson(0.7, size=(16, 40))
    design = polygon_design(grid(4), max_areas=5)
    got = scan_clusters(x, design, ScanSettings(max_days=10, permutations=19))
    assert got["llr"].iloc[0] == pytest.approx(brute_force_max_llr(x, design, 10), rel=1e-12)


def test_null_matches_naive_date_permutations():
    """The fast generator (hypergeometric tail + shuffle) has the law of shuffling every case's day."""
    rng = np.random.default_rng(11)
    x = rng.poisson(0.5, size=(9, 30))
    design = polygon_design(grid(3), max_areas=4)
    settings = ScanSettings(max_days=7, permutations=400, seed=5)
    fast = null_max_llr(x, design, settings)
    area_of_case = np.repeat(np.arange(9), x.sum(axis=1))
    day_of_case = np.concatenate([np.repeat(np.arange(30), x[a]) for a in range(9)])
    naive = []
    for _ in range(400):
        shuffled = np.zeros_like(x)
        np.add.at(shuffled, (area_of_case, rng.permutation(day_of_case)), 1)
        naive.append(brute_force_max_llr(shuffled, design, 7))
    assert stats.ks_2samp(fast, naive).pvalue > 0.01
    assert np.mean(fast) == pytest.approx(np.mean(naive), rel=0.1)


def planted(seed, boost):
    """36 areas x 200 days of Poisson(1); ``boost`` extra mean per day in areas 0, 1, 6 over the last 7 days."""
    rng = np.random.default_rng(seed)
    lam = np.ones((36, 200))
    lam[[0, 1, 6], -7:] += boost
    return rng.poisson(lam)


def test_planted_cluster_is_found_and_no_cluster_is_not():
    design = polygon_design(grid(6), max_areas=6)
    settings = ScanSettings(permutations=199, seed=2)
    found = scan_clusters(planted(1, 2.0), design, settings).iloc[0]
    assert found["p_value"] == pytest.approx(1 / 200)
    assert {"0", "1", "6"} <= set(found["member_ids"]) <= {"0", "1", "6", "2", "7", "12"}
    assert 5 <= found["n_days"] <= 9
    p_null = [scan_clusters(planted(seed, 0.0), design, settings)["p_value"].iloc[0] for seed in range(20)]
    assert sum(p < 0.05 for p in p_null) <= 3  # about 1 in 20 by chance
    assert np.median(p_null) > 0.2


def test_secondary_clusters_share_no_area_with_better_ones():
    x = planted(4, 2.0)
    x[[30, 31], -5:] += 6
    got = scan_clusters(x, polygon_design(grid(6), max_areas=6), ScanSettings(permutations=99, report_p=1.0))
    assert len(got) >= 2
    seen = set()
    for members in got["member_ids"]:
        assert not seen.intersection(members)
        seen.update(members)
    assert got["llr"].is_monotonic_decreasing


def test_members_are_adjacent_on_real_boundaries_with_islands(data_dir):
    gdf = gpd.read_file(data_dir / "boston" / "Boston_Neighborhoods.geojson")
    from tasks.trends.adjacency import area_weights

    w = area_weights(gdf, "Name")
    design = polygon_design(gdf, "Name", max_areas=6)
    for c, k in zip(*np.nonzero(design.valid)):
        assert connected(design.members(int(c), int(k)), w.neighbors)
    east = design.area_ids.index("East Boston")
    assert set(design.members(east, 1)[1:]) <= set(w.neighbors["East Boston"])


def test_prospective_scan_reuses_nulls_per_block():
    x = planted(7, 0.0)
    design = polygon_design(grid(6), max_areas=4)
    settings = ScanSettings(permutations=49)
    runner = ProspectiveScan(x, design, settings, study_days=100, refresh_days=7)
    exact = scan_clusters(x[:, 50:150], design, settings)
    got = runner.clusters(149)
    assert (got["start"].iloc[0], got["end"].iloc[0]) == (exact["start"].iloc[0] + 50, 149)
    assert got["llr"].iloc[0] == pytest.approx(exact["llr"].iloc[0])
    assert runner.null(148) is runner.null(154) and runner.null(155) is not runner.null(154)
    np.testing.assert_array_equal(runner.null(99), null_max_llr(x[:, :100], design, settings))


def test_bad_counts_name_the_cell():
    x = TABLE.astype(float)
    x[1, 2] = -1
    with pytest.raises(InputError, match="area b day 2"):
        scan_clusters(x, line_design())


# ------------------------------------------------------------------------- the registry method
def toy_inputs(boost, params=None):
    gdf = grid(5, crs="EPSG:4326").assign(geometry=lambda g: g.geometry.scale(0.01, 0.01, origin=(0, 0)))
    gdf = gdf.assign(geometry=gdf.geometry.translate(-87.7, 41.8))
    days = pd.date_range("2018-01-01", periods=120, freq="D")
    rng = np.random.default_rng(9)
    lam = np.full((25, 120), 1.5)
    lam[[12, 13], -10:] += boost
    x = rng.poisson(lam)
    series = pd.DataFrame({"neighborhood_id": np.repeat(gdf["neighborhood_id"], 120).to_numpy(),
                           "period_start": np.tile(days, 25), "value": x.ravel().astype(float)})
    hoods = pd.DataFrame({"neighborhood_id": gdf["neighborhood_id"], "name": gdf["neighborhood_id"],
                          "population": 1000.0, "geometry_wkt": gdf.geometry.to_wkt()})
    return TrendInputs(metric="drug_incidents", series={"day": series}, neighborhoods=hoods, params=params or {})


def test_registered_method_writes_one_row_per_cluster():
    m = method("stp_scan")
    assert m.kind == "cluster" and m.grains == ("day",)
    got = m.run(toy_inputs(4.0, {"stp_scan": {"permutations": 999}}), "day")
    assert list(got.columns) == TREND_SIGNAL_COLUMNS
    top = got.iloc[0]
    d = json.loads(top["details"])
    assert top["level"] == "alarm" and alarm_mask(got).iloc[0]
    assert {"12", "13"} <= set(d["member_ids"]) and top["neighborhood_id"] == d["centre_id"]
    assert d["cluster_id"] == "stp_scan:drug_incidents:2018-04-30:1" and d["kind"] == "most_likely"
    assert top["period_end"] == pd.Timestamp("2018-04-30") and d["study_days"] == 120
    assert top["statistic"] == pytest.approx(d["llr"]) and d["recurrence_interval_days"] >= 365
    assert got["details"].map(lambda s: json.loads(s)["rank"]).tolist() == list(range(1, len(got) + 1))


def test_no_outbreak_gives_no_alarm():
    got = run_stp_scan(toy_inputs(0.0, {"stp_scan": {"permutations": 999}}))
    assert not alarm_mask(got).any()


def test_daily_matrix_keeps_the_last_study_days_and_zero_fills():
    series = pd.DataFrame({"neighborhood_id": ["a", "b", None, "a"],
                           "period_start": pd.to_datetime(["2018-01-01", "2018-01-03", "2018-01-03", "2018-01-05"]),
                           "value": [2.0, 1.0, 9.0, 4.0]})
    x, days = daily_matrix(series, ["a", "b", "c"], study_days=4)
    assert days[0] == pd.Timestamp("2018-01-02") and len(days) == 4
    np.testing.assert_array_equal(x, [[0, 0, 0, 4], [0, 1, 0, 0], [0, 0, 0, 0]])


@pytest.mark.parametrize(("params", "match"), [
    ({"stp_scan": {"permutatons": 999}}, "unknown key"),
    ({"stp_scan": {"permutations": 99}}, "cannot reach a recurrence interval"),
    ({"weights": {"islands": "nearest"}}, "islands 'nearest'"),
], ids=["typo", "too-few-permutations", "bad-weights"])
def test_bad_parameters_are_one_line_config_errors(params, match):
    with pytest.raises(ConfigError, match=match):
        run_stp_scan(toy_inputs(0.0, params))

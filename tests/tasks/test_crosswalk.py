"""Police-unit -> community-area crosswalk: hand-computed weights and the real boundary files."""
from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from tasks.geocode.crosswalk import areal_crosswalk, carry_to_areas, police_units
from tasks.geocode.points import load_neighborhoods

CRS = "EPSG:3435"  # feet; the toy squares are drawn in it


def toy():
    # Two units side by side (0-2 x 0-2 and 2-4 x 0-2); area A = 0-3 x 0-2 straddles them, B = 3-4 x 0-2.
    units = gpd.GeoDataFrame({"unit_id": ["u1", "u2"]}, geometry=[box(0, 0, 2000, 2000), box(2000, 0, 4000, 2000)], crs=CRS)
    areas = gpd.GeoDataFrame({"neighborhood_id": ["A", "B"]},
                             geometry=[box(0, 0, 3000, 2000), box(3000, 0, 4000, 2000)], crs=CRS)
    return units, areas


def test_target_weights_are_area_shares_and_sum_to_one_per_area():
    units, areas = toy()
    cw = areal_crosswalk(units, areas, projected_crs=CRS).set_index(["unit_id", "neighborhood_id"])["weight"]
    # A: 2/3 of it in u1, 1/3 in u2; B entirely in u2.
    assert cw.to_dict() == pytest.approx({("u1", "A"): 2 / 3, ("u2", "A"): 1 / 3, ("u2", "B"): 1.0})


def test_source_weights_use_population_and_sum_to_one_per_unit():
    units, areas = toy()
    pop = pd.Series({"A": 300.0, "B": 900.0})
    cw = areal_crosswalk(units, areas, projected_crs=CRS, population=pop, normalize="source")
    w = cw.set_index(["unit_id", "neighborhood_id"])["weight"]
    # u2 holds 1/3 of A (100 people) and all of B (900): 0.1 / 0.9.
    assert w[("u2", "A")] == pytest.approx(0.1) and w[("u2", "B")] == pytest.approx(0.9)
    assert w[("u1", "A")] == pytest.approx(1.0)
    assert cw.groupby("unit_id")["weight"].sum().tolist() == pytest.approx([1.0, 1.0])


def test_slivers_are_dropped():
    units, areas = toy()
    # u3 lies in B but its drawn edge pokes 10 ft into A: 0.3% of A, 1% of u3.
    units = gpd.GeoDataFrame({"unit_id": ["u1", "u3"]}, geometry=[box(0, 0, 2990, 2000), box(2990, 0, 4000, 2000)], crs=CRS)
    cw = areal_crosswalk(units, areas, projected_crs=CRS, min_share=0.05)
    assert sorted(zip(cw["unit_id"], cw["neighborhood_id"])) == [("u1", "A"), ("u3", "B")]
    assert cw["weight"].tolist() == pytest.approx([1.0, 1.0])


def test_carry_scores_is_a_weighted_mean_with_coverage():
    units, areas = toy()
    cw = areal_crosswalk(units, areas, projected_crs=CRS)
    values = pd.DataFrame({"unit_id": ["u1", "u2", "u1"], "month": ["m1", "m1", "m2"],
                           "safety": [60.0, 30.0, 50.0]})
    got = carry_to_areas(values, cw, ["safety"], by=["month"]).set_index(["neighborhood_id", "month"])
    assert got.at[("A", "m1"), "safety"] == pytest.approx(2 / 3 * 60 + 1 / 3 * 30)
    assert got.at[("A", "m2"), "safety"] == pytest.approx(50.0)  # u2 silent: mean over u1 only
    assert got.at[("A", "m2"), "coverage_safety"] == pytest.approx(2 / 3)
    assert ("B", "m2") not in got.index


@pytest.mark.parametrize("level,n_units", [("district", 23), ("sector", 68)])
def test_real_boundaries_cover_every_community_area(data_dir, level, n_units):
    b = data_dir / "chicago_boundaries"
    units = police_units(gpd.read_file(b / "police_beats.geojson"), gpd.read_file(b / "police_districts.geojson"), level)
    assert len(units) == n_units
    hoods = load_neighborhoods(b / "community_areas.geojson", "area_numbe", "community")
    pop = pd.read_csv(data_dir / "chicago_population/community_area_population_2010.csv", dtype={"NID": str})
    cw = areal_crosswalk(units, hoods, projected_crs=CRS, population=pop.set_index("NID")["POP2010"])
    sums = cw.groupby("neighborhood_id")["weight"].sum()
    assert len(sums) == 77 and np.allclose(sums, 1.0)
    # O'Hare (76) lies almost wholly in district 16; the airport beats are sector 1650.
    if level == "district":
        assert cw[cw["neighborhood_id"] == "76"].set_index("unit_id")["weight"].idxmax() == "16"
    else:
        assert cw[cw["neighborhood_id"] == "76"].set_index("unit_id")["weight"].idxmax() == "1650"


def test_police_crosswalk_table_has_both_levels(data_dir):
    from tasks.geocode.crosswalk import police_crosswalk

    b = data_dir / "chicago_boundaries"
    hoods = load_neighborhoods(b / "community_areas.geojson", "area_numbe", "community")
    cw = police_crosswalk(gpd.read_file(b / "police_beats.geojson"), gpd.read_file(b / "police_districts.geojson"),
                          hoods, projected_crs=CRS)
    assert cw.groupby("unit_level").size().to_dict() == {"district": 132, "sector": 216}
    assert np.allclose(cw.groupby(["unit_level", "neighborhood_id"])["weight"].sum(), 1.0)

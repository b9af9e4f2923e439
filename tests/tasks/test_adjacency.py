"""Tests for tasks.trends.adjacency: contiguity weights with islands attached (hand-made and real boundaries)."""
from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Polygon, box

from schemas.errors import ConfigError, InputError
from tasks.trends.adjacency import WeightsRule, area_weights, projected_centroids, valid_polygons
from tasks.trends.hotspots import emerging_hotspots

KM = 1000.0


def toy():
    """Squares (km) 0-1-2 in a row, 3 touching 2 only at a corner, 4 far out in the water."""
    cells = [box(0, 0, 1, 1), box(1, 0, 2, 1), box(2, 0, 3, 1), box(3, 1, 4, 2), box(10, 0, 11, 1)]
    geoms = [Polygon(np.asarray(c.exterior.coords) * KM) for c in cells]
    return gpd.GeoDataFrame({"neighborhood_id": list("abcde")}, geometry=geoms, crs="EPSG:3857")


def links(w):
    return {i: sorted(w.neighbors[i]) for i in w.id_order}


def test_islands_get_their_k_nearest_areas_both_ways():
    w = area_weights(toy(), weights={"rule": "queen", "islands": "knn", "k": 1})
    assert w.islands_attached == ["e"] and not w.islands
    assert links(w) == {"a": ["b"], "b": ["a", "c"], "c": ["b", "d"], "d": ["c", "e"], "e": ["d"]}
    w2 = area_weights(toy(), weights={"k": 2})
    assert links(w2)["e"] == ["c", "d"] and "e" in w2.neighbors["c"]
    assert w2.transform == "B" and all(v == 1.0 for ws in w2.weights.values() for v in ws)


def test_rook_drops_corner_contacts_and_attaches_both_islands():
    w = area_weights(toy(), weights={"rule": "rook", "k": 1})
    assert sorted(w.islands_attached) == ["d", "e"]
    assert links(w)["d"] == ["c", "e"] and links(w)["e"] == ["d"]


def test_distance_band_links_every_centroid_within_the_threshold():
    w = area_weights(toy(), weights={"islands": "distance_band", "threshold_km": 7.5})
    assert links(w)["e"] == ["d"]  # d's centroid is 7.07 km away, c's 8 km
    w = area_weights(toy(), weights={"islands": "distance_band", "threshold_km": 8.5})
    assert links(w)["e"] == ["c", "d"]
    with pytest.raises(InputError, match="area e has no other centroid within 1 km"):
        area_weights(toy(), weights={"islands": "distance_band", "threshold_km": 1})


def test_islands_error_rule_keeps_the_old_message():
    with pytest.raises(InputError, match="area\\(s\\) e touch no other area"):
        area_weights(toy(), weights={"islands": "error"})


@pytest.mark.parametrize(("weights", "match"), [
    ({"rule": "bishop"}, "rule 'bishop'"),
    ({"islands": "nearest"}, "islands 'nearest'"),
    ({"k": 0}, "k must be a whole number"),
    ({"islands": "distance_band"}, "needs threshold_km"),
    ({"neighbours": 3}, "unknown key\\(s\\) neighbours"),
], ids=["rule", "islands", "k", "band-threshold", "unknown-key"])
def test_bad_rules_are_config_errors(weights, match):
    with pytest.raises(ConfigError, match=match):
        WeightsRule.parse(weights)


def test_centroids_are_in_metres():
    xy = projected_centroids(toy())
    np.testing.assert_allclose(xy[4], [10.5 * KM, 0.5 * KM])


def boston(data_dir):
    return gpd.read_file(data_dir / "boston" / "Boston_Neighborhoods.geojson")


def test_boston_islands_and_exclaves_get_neighbours(data_dir):
    gdf = boston(data_dir)
    assert (~gdf.is_valid).sum() == 1  # Hyde Park's ring self-intersects (PROVENANCE.md)
    assert valid_polygons(gdf).is_valid.all() and gdf.is_valid.sum() == 25  # input not mutated
    with pytest.raises(InputError, match="East Boston, Harbor Islands touch no other area"):
        area_weights(gdf, "Name", {"islands": "error"})
    w = area_weights(gdf, "Name")  # default: queen, islands -> 3 nearest
    assert w.n == 26 and not w.islands and w.islands_attached == ["East Boston", "Harbor Islands"]
    assert len(w.neighbors["Harbor Islands"]) >= 3 and "East Boston" in w.neighbors["Harbor Islands"]
    assert all(i in w.neighbors[j] for i in w.id_order for j in w.neighbors[i])  # symmetric
    assert "Hyde Park" in w.neighbors["Mattapan"]


def test_emerging_hotspots_run_on_boston(data_dir):
    gdf = boston(data_dir)
    months = pd.date_range("2016-01-01", periods=12, freq="MS")
    rng = np.random.default_rng(0)
    cube = pd.DataFrame({"neighborhood_id": np.tile(gdf["Name"], 12), "period_start": np.repeat(months, 26),
                         "value": rng.poisson(20, 12 * 26).astype(float)})
    got = emerging_hotspots(cube, gdf, "drug_incidents", id_field="Name", weights={"k": 2})
    assert len(got) == 26
    d = got.set_index("neighborhood_id")["details"].map(json.loads)
    assert d["Harbor Islands"]["neighbours_from"] == "knn" and d["Roxbury"]["neighbours_from"] == "contiguity"

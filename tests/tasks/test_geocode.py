"""Geocoding canonical rows to community areas: points, projected x/y, snapping, fallbacks."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tasks.geocode.points import assign_neighborhoods, load_neighborhoods


@pytest.fixture(scope="module")
def areas(data_dir):
    return load_neighborhoods(data_dir / "chicago_boundaries/community_areas.geojson", "area_numbe", "community")


def frame(**cols):
    n = len(next(iter(cols.values())))
    base = {"latitude": [np.nan] * n, "longitude": [np.nan] * n, "x_coordinate": [np.nan] * n,
            "y_coordinate": [np.nan] * n, "source_area_id": [None] * n}
    base.update(cols)
    df = pd.DataFrame(base)
    df["source_area_id"] = df["source_area_id"].astype("str")
    return df


def geocode(df, areas):
    return assign_neighborhoods(df, areas, projected_crs="EPSG:3435", xy_crs="EPSG:3435", snap_tolerance_m=250)


def test_points_projected_xy_snapping_and_fallbacks(areas):
    df = frame(
        latitude=[41.8789, np.nan, 41.9000, np.nan, np.nan, 41.9786],
        longitude=[-87.6359, np.nan, -87.6180, np.nan, np.nan, -87.6470],
        # row 1: Illinois State Plane East feet of a West Garfield Park point
        x_coordinate=[np.nan, 1147300.0, np.nan, np.nan, np.nan, np.nan],
        y_coordinate=[np.nan, 1899500.0, np.nan, np.nan, np.nan, np.nan],
        source_area_id=[None, None, None, "25", None, None],
    )
    out = geocode(df, areas)
    assert out.loc[0, "neighborhood_id"] == "32" and out.loc[0, "geocode_precision"] == "point"  # the Loop
    assert out.loc[1, "geocode_method"] == "projected_xy" and out.loc[1, "neighborhood_id"] == "26"
    # row 2 is in Lake Michigan ~100 m off the shore: snapped to the nearest area within 250 m
    assert out.loc[2, "geocode_precision"] in ("snapped", "none")
    assert out.loc[3, "geocode_method"] == "source_area" and out.loc[3, "neighborhood_id"] == "25"
    assert out.loc[4, "geocode_precision"] == "none" and pd.isna(out.loc[4, "neighborhood_id"])
    assert len(out) == len(df)
    assert "neighborhood_id" not in df or df["latitude"].equals(out["latitude"])  # input untouched


def test_snapping_respects_the_tolerance(areas):
    # Points due east of the Loop shoreline: ~60 m and ~3 km out into the lake.
    df = frame(latitude=[41.8826, 41.8826], longitude=[-87.6130, -87.5800])
    out = geocode(df, areas)
    assert out.loc[0, "geocode_precision"] == "snapped" and out.loc[0, "snap_distance_m"] < 250
    assert out.loc[1, "geocode_precision"] == "none"


def test_duplicate_points_are_joined_once_and_mapped_back(areas):
    df = frame(latitude=[41.8789] * 5 + [41.75] * 5, longitude=[-87.6359] * 5 + [-87.66] * 5)
    out = geocode(df, areas)
    assert out["neighborhood_id"].nunique() == 2
    assert (out["neighborhood_id"].iloc[:5] == "32").all()

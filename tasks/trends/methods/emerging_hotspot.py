"""Registry entry ``emerging_hotspot``: Esri-style emerging hot spot analysis on the area x month cube.

Engine and definitions: ``tasks.trends.hotspots`` (space-time Gi*, Benjamini-Hochberg per month,
Mann-Kendall on each area's z series). One row per area for the whole cube; its category is a
description of where counts concentrate, not an alarm (no ``is_alarm``): the report maps it.
"""
from __future__ import annotations

import geopandas as gpd
import pandas as pd
from shapely import from_wkt

from schemas.errors import InputError
from tasks.trends.hotspots import METHOD, emerging_hotspots
from tasks.trends.registry import Method, TrendInputs


def run(inputs: TrendInputs, grain: str = "month") -> pd.DataFrame:
    """Return one emerging-hot-spot row per area of ``inputs`` (monthly cube, neighborhood polygons)."""
    hoods = inputs.neighborhoods
    if "geometry_wkt" not in hoods.columns or hoods["geometry_wkt"].isna().any():
        raise InputError("neighborhoods", "geometry_wkt is missing", "Load the neighborhood polygons first")
    polygons = gpd.GeoDataFrame(hoods[["neighborhood_id"]].astype(str),
                                geometry=from_wkt(hoods["geometry_wkt"].to_numpy()), crs="EPSG:4326")
    return emerging_hotspots(inputs.series[grain], polygons, inputs.metric)


METHODS = (Method(
    name=METHOD, kind="trend", grains=("month",), run=run,
    description="Emerging hot spots: Getis-Ord Gi* on the area x month cube (queen contiguity + previous month, "
                "Benjamini-Hochberg per month), then Mann-Kendall on each area's z; a category per area, not an alarm",
    reference="Esri Emerging Hot Spot Analysis; Getis & Ord 1992",
),)

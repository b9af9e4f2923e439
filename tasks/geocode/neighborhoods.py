"""Neighborhood dimension rows from the boundary file and population table."""
from __future__ import annotations

import geopandas as gpd
import pandas as pd


def neighborhood_dimension(neighborhoods: gpd.GeoDataFrame, population: pd.DataFrame, projected_crs: str) -> pd.DataFrame:
    """Return one row per neighborhood: id, name, 2010 population, area, centroid, WKT geometry.

    ``population`` has columns ``neighborhood_id`` and ``population``.
    """
    proj = neighborhoods.to_crs(projected_crs)
    unit = proj.crs.axis_info[0].unit_conversion_factor
    centroids = proj.geometry.centroid.to_crs("EPSG:4326")
    out = pd.DataFrame({
        "neighborhood_id": neighborhoods["neighborhood_id"].astype("str"),
        "name": neighborhoods["name"].str.title(),
        "area_km2": (proj.geometry.area * unit * unit / 1e6).round(3),
        "centroid_lat": centroids.y.round(6),
        "centroid_lon": centroids.x.round(6),
        "geometry_wkt": neighborhoods.geometry.to_wkt(rounding_precision=6),
    })
    pop = population.assign(neighborhood_id=population["neighborhood_id"].astype("str"))
    out = out.merge(pop[["neighborhood_id", "population"]], on="neighborhood_id", how="left")
    out = out.rename(columns={"population": "population_2010"})
    out["population_2010"] = out["population_2010"].astype("Int64")
    return out[["neighborhood_id", "name", "population_2010", "area_km2", "centroid_lat", "centroid_lon", "geometry_wkt"]]

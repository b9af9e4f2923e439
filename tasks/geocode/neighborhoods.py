"""Neighborhood dimension rows from the boundary polygons and an optional population table."""
from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd

from schemas.errors import InputError


def read_population(path: Path, id_field: str, population_field: str) -> pd.DataFrame:
    """Return population per neighborhood (``neighborhood_id``, ``population``) from a CSV table."""
    pop = pd.read_csv(path, dtype=str)
    missing = [c for c in (id_field, population_field) if c not in pop.columns]
    if missing:
        raise InputError(path, f"column '{missing[0]}' is missing (found {', '.join(pop.columns[:8])})",
                         "Set population_id_field / population_field in the city config's [neighborhoods]")
    return pd.DataFrame({"neighborhood_id": pop[id_field].str.strip(),
                         "population": pd.to_numeric(pop[population_field], errors="coerce")})


def neighborhood_dimension(neighborhoods: gpd.GeoDataFrame, population: pd.DataFrame | None, projected_crs: str,
                           title_case: bool = True) -> pd.DataFrame:
    """Return one row per neighborhood: id, name, population, area, centroid, WKT geometry.

    ``population`` has columns ``neighborhood_id`` and ``population``; None (no table) leaves the
    population null, so rates per resident are null too. ``title_case`` turns names a boundary
    file writes in capitals into title case; otherwise names are kept as the file spells them.
    """
    proj = neighborhoods.to_crs(projected_crs)
    unit = proj.crs.axis_info[0].unit_conversion_factor
    centroids = proj.geometry.centroid.to_crs("EPSG:4326")
    out = pd.DataFrame({
        "neighborhood_id": neighborhoods["neighborhood_id"].astype("str"),
        "name": neighborhoods["name"].str.title() if title_case else neighborhoods["name"].astype("str"),
        "area_km2": (proj.geometry.area * unit * unit / 1e6).round(3),
        "centroid_lat": centroids.y.round(6),
        "centroid_lon": centroids.x.round(6),
        "geometry_wkt": neighborhoods.geometry.to_wkt(rounding_precision=6),
    })
    if population is None:
        population = pd.DataFrame({"neighborhood_id": pd.Series(dtype="str"), "population": pd.Series(dtype="float")})
    pop = population.assign(neighborhood_id=population["neighborhood_id"].astype("str"))
    out = out.merge(pop[["neighborhood_id", "population"]], on="neighborhood_id", how="left")
    out = out.rename(columns={"population": "population_2010"})
    out["population_2010"] = out["population_2010"].round().astype("Int64")  # estimates may carry decimals
    return out[["neighborhood_id", "name", "population_2010", "area_km2", "centroid_lat", "centroid_lon", "geometry_wkt"]]

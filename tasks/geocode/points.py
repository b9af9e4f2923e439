"""Geocode canonical rows to neighborhoods: lat/lon or projected x/y -> polygon id.

Order per row (recorded in ``geocode_method`` / ``geocode_precision``):
1. lat/lon given -> point in polygon (``latlon`` / ``point``);
2. else projected x/y (e.g. EPSG:3435) -> reprojected point (``projected_xy`` / ``point``);
3. a point outside every polygon but within the snap tolerance of one joins the nearest
   (precision ``snapped``, distance kept in ``snap_distance_m``);
4. no usable point but the source labels its own area -> that label (``source_area`` /
   ``area_label``);
5. else ``none``: the row loads with a null neighborhood and still counts citywide.
The spatial join runs once per distinct coordinate pair (geopandas ``sjoin``).
"""
from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import Transformer

METERS_PER_US_FOOT = 0.3048006096012192


def load_neighborhoods(path, id_field: str, name_field: str, crs: str = "EPSG:4326") -> gpd.GeoDataFrame:
    """Return neighborhood polygons (``neighborhood_id``, ``name``, geometry) in EPSG:4326."""
    gdf = gpd.read_file(path)
    if gdf.crs is None:
        gdf = gdf.set_crs(crs)
    gdf = gdf.to_crs("EPSG:4326")
    out = gpd.GeoDataFrame(
        {"neighborhood_id": gdf[id_field].astype("str").str.strip(), "name": gdf[name_field].astype("str").str.strip()},
        geometry=gdf.geometry.values, crs="EPSG:4326",
    )
    return out.sort_values("neighborhood_id", key=lambda s: pd.to_numeric(s, errors="coerce")).reset_index(drop=True)


def points_to_neighborhoods(lon: np.ndarray, lat: np.ndarray, neighborhoods: gpd.GeoDataFrame,
                            projected_crs: str, snap_tolerance_m: float) -> pd.DataFrame:
    """Return per input point (same order): ``neighborhood_id``, ``snapped`` flag, ``snap_distance_m``.

    Inputs must be distinct points; NaN coordinates give a null neighborhood.
    """
    n = len(lon)
    result = pd.DataFrame({"neighborhood_id": pd.Series([None] * n, dtype="str"),
                           "snapped": np.zeros(n, dtype=bool), "snap_distance_m": np.full(n, np.nan)})
    ok = ~(np.isnan(lon) | np.isnan(lat))
    if not ok.any():
        return result
    idx = np.flatnonzero(ok)
    pts = gpd.GeoDataFrame({"i": idx}, geometry=gpd.points_from_xy(lon[ok], lat[ok]), crs="EPSG:4326")
    joined = gpd.sjoin(pts, neighborhoods[["neighborhood_id", "geometry"]], how="left", predicate="within")
    # A point on a shared border can fall in two polygons: keep the first (lowest id) deterministically.
    joined = joined[~joined.index.duplicated(keep="first")]
    hit = joined["neighborhood_id"].notna().to_numpy()
    result.loc[joined["i"].to_numpy()[hit], "neighborhood_id"] = joined["neighborhood_id"].to_numpy()[hit]
    miss = pts[~hit]
    if len(miss) and snap_tolerance_m > 0:
        proj = neighborhoods[["neighborhood_id", "geometry"]].to_crs(projected_crs)
        unit = proj.crs.axis_info[0].unit_conversion_factor  # metres per CRS unit
        near = gpd.sjoin_nearest(miss.to_crs(projected_crs), proj, how="left",
                                 max_distance=snap_tolerance_m / unit, distance_col="dist")
        near = near[~near.index.duplicated(keep="first")]
        got = near["neighborhood_id"].notna().to_numpy()
        rows = near["i"].to_numpy()[got]
        result.loc[rows, "neighborhood_id"] = near["neighborhood_id"].to_numpy()[got]
        result.loc[rows, "snapped"] = True
        result.loc[rows, "snap_distance_m"] = near["dist"].to_numpy()[got] * unit
    return result


def assign_neighborhoods(frame: pd.DataFrame, neighborhoods: gpd.GeoDataFrame, *, projected_crs: str,
                         xy_crs: str | None = None, snap_tolerance_m: float = 250.0,
                         fallback_to_source_area: bool = True) -> pd.DataFrame:
    """Return a copy of canonical rows with the geocode columns filled, same index.

    Needs ``latitude, longitude``; uses ``x_coordinate, y_coordinate`` (in ``xy_crs``) where
    lat/lon are missing, and ``source_area_id`` as a last resort.
    """
    out = frame.copy(deep=False)  # copy-on-write: new columns never touch the caller's frame
    lat = out["latitude"].to_numpy(dtype="float64", na_value=np.nan)
    lon = out["longitude"].to_numpy(dtype="float64", na_value=np.nan)
    method = np.where(~(np.isnan(lat) | np.isnan(lon)), "latlon", "none").astype(object)
    if xy_crs and "x_coordinate" in out:
        x = out["x_coordinate"].to_numpy(dtype="float64", na_value=np.nan)
        y = out["y_coordinate"].to_numpy(dtype="float64", na_value=np.nan)
        use_xy = (method == "none") & ~(np.isnan(x) | np.isnan(y))
        if use_xy.any():
            tf = Transformer.from_crs(xy_crs, "EPSG:4326", always_xy=True)
            lon_xy, lat_xy = tf.transform(x[use_xy], y[use_xy])
            lon = lon.copy(); lat = lat.copy()
            lon[use_xy], lat[use_xy] = lon_xy, lat_xy
            method[use_xy] = "projected_xy"
    # NaN never equals NaN, so group on a filled copy; group numbers follow first appearance.
    pts = pd.DataFrame({"lon": lon, "lat": lat}).fillna(np.inf)
    codes = pts.groupby(["lon", "lat"], sort=False).ngroup().to_numpy()
    distinct = pts.drop_duplicates().replace(np.inf, np.nan)
    joined = points_to_neighborhoods(distinct["lon"].to_numpy(), distinct["lat"].to_numpy(), neighborhoods,
                                     projected_crs, snap_tolerance_m)
    nid = joined["neighborhood_id"].to_numpy(dtype=object)[codes]
    snapped = joined["snapped"].to_numpy()[codes]
    dist = joined["snap_distance_m"].to_numpy()[codes]
    precision = np.where(pd.isna(nid), "none", np.where(snapped, "snapped", "point")).astype(object)
    if fallback_to_source_area and "source_area_id" in out:
        known = set(neighborhoods["neighborhood_id"])
        src = out["source_area_id"].to_numpy(dtype=object, na_value=None)
        use_src = pd.isna(nid) & (method == "none") & np.array([s in known for s in src], dtype=bool)
        nid = np.where(use_src, src, nid)
        method = np.where(use_src, "source_area", method)
        precision = np.where(use_src, "area_label", precision)
    out["neighborhood_id"] = pd.Series(nid, index=out.index, dtype="str")
    out["geocode_method"] = pd.Series(method, index=out.index, dtype="str")
    out["geocode_precision"] = pd.Series(precision, index=out.index, dtype="str")
    out["snap_distance_m"] = pd.Series(dist, index=out.index, dtype="float64")
    return out


def precision_breakdown(frame: pd.DataFrame) -> dict[str, int]:
    """Return counts of rows per geocode precision."""
    return {str(k): int(v) for k, v in frame["geocode_precision"].value_counts().items()}

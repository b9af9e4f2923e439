"""Place medical-examiner cases in neighborhoods: a cascade over the location fields a case has.

Per row, first that applies (``geocode_method`` / ``geocode_precision``):

1. lat/lon, else projected x/y -> point in polygon (``latlon``/``projected_xy``, ``point``), via
   ``tasks.geocode.points.assign_neighborhoods``. No snapping by default: the city limit is a
   real edge here, and snapping 30-250 m pulled 39-144 suburban deaths into Chicago areas.
2. the export's own community-area name matched to the boundary file
   (``source_area_name``/``area_label``), for rows with no point inside the city;
3. no coordinates, incident city = the city: the offline Chicago address geocoder on the
   street (``intersection``/``address_grid``/``grid_crossing``), then its ZIP-share fallback
   (``zip_area_share``/``zip``: the area holding most of the ZIP);
4. else ``none``: the case counts county-wide only (most are suburban deaths).

The street address column is dropped from the result, so it never reaches a table.
"""
from __future__ import annotations

from collections.abc import Callable

import geopandas as gpd
import pandas as pd

from tasks.geocode.address_geocoder import AddressGeocoder
from tasks.geocode.area_names import match_area_names
from tasks.geocode.points import assign_neighborhoods

ADDRESS_METHODS = ("intersection", "address_grid", "grid_crossing", "zip_area_share")
POINT_METHODS = ("latlon", "projected_xy")


def locate_cases(frame: pd.DataFrame, neighborhoods: gpd.GeoDataFrame, *, projected_crs: str,
                 xy_crs: str | None = None, snap_tolerance_m: float = 0.0,
                 address_geocoder: AddressGeocoder | Callable[[], AddressGeocoder] | None = None,
                 city_name: str = "CHICAGO", address_col: str = "address") -> pd.DataFrame:
    """Return a copy of canonical cases (same rows and index) with ``source_area_id`` and the
    geocode columns filled and ``address_col`` dropped.

    ``address_geocoder`` may be a function returning one: it is built only when some row needs it.
    """
    out = assign_neighborhoods(frame, neighborhoods, projected_crs=projected_crs, xy_crs=xy_crs,
                               snap_tolerance_m=snap_tolerance_m, fallback_to_source_area=False)
    # A point outside every polygon stays a point method with no area; later steps may place it.
    matched = match_area_names(out["source_area_name"], neighborhoods)
    out["source_area_id"] = matched["neighborhood_id"].astype("str")
    use_name = out["neighborhood_id"].isna() & out["source_area_id"].notna()
    out.loc[use_name, "neighborhood_id"] = out.loc[use_name, "source_area_id"]
    out.loc[use_name, "geocode_method"] = "source_area_name"
    out.loc[use_name, "geocode_precision"] = "area_label"
    no_point = out["latitude"].isna() & out["longitude"].isna() & out["x_coordinate"].isna()
    in_city = out["incident_city"].fillna("").str.upper().eq(city_name.upper())
    has_where = out[address_col].notna() | out["incident_zip"].notna() if address_col in out else out["incident_zip"].notna()
    todo = out["neighborhood_id"].isna() & no_point & in_city & has_where
    if todo.any() and address_geocoder is not None:
        geocoder = address_geocoder if isinstance(address_geocoder, AddressGeocoder) else address_geocoder()
        out = _by_address(out, todo, geocoder, address_col)
    unplaced = out["neighborhood_id"].isna()
    out.loc[unplaced & ~out["geocode_method"].isin(POINT_METHODS), ["geocode_method", "geocode_precision"]] = ["none", "none"]
    out.loc[unplaced, "geocode_precision"] = "none"
    for c in ("neighborhood_id", "geocode_method", "geocode_precision", "source_area_id"):
        out[c] = out[c].astype("str")
    return out.drop(columns=[address_col], errors="ignore")


def _by_address(out: pd.DataFrame, todo: pd.Series, geocoder: AddressGeocoder, address_col: str) -> pd.DataFrame:
    sub = out.loc[todo, [address_col, "incident_zip"]].copy()
    sub[address_col] = sub[address_col].fillna("")
    located = geocoder.geocode(sub, address_col, "incident_zip")
    placed = located["neighborhood_id"].notna() & located["geocode_method"].isin(ADDRESS_METHODS)
    rows = located.index[placed]
    out = out.copy()
    for c in ("neighborhood_id", "geocode_method", "geocode_precision"):
        out.loc[rows, c] = located.loc[rows, c].astype("str")
    return out


def case_geocoder(neighborhoods: gpd.GeoDataFrame, *, projected_crs: str, xy_crs: str | None,
                  address_geocoder: AddressGeocoder | Callable[[], AddressGeocoder] | None = None,
                  snap_tolerance_m: float = 0.0, city_name: str = "CHICAGO") -> Callable[[pd.DataFrame], pd.DataFrame]:
    """Return a ``FeedSpec.geocode`` function for the examiner feed (frame -> ``locate_cases`` rows).

    The address geocoder (a function is called once, on first need) is shared by every batch.
    """
    built: list[AddressGeocoder] = [address_geocoder] if isinstance(address_geocoder, AddressGeocoder) else []

    def the_geocoder() -> AddressGeocoder:
        if not built:
            built.append(address_geocoder())
        return built[0]

    def geocode(frame: pd.DataFrame) -> pd.DataFrame:
        return locate_cases(frame, neighborhoods, projected_crs=projected_crs, xy_crs=xy_crs,
                            snap_tolerance_m=snap_tolerance_m, city_name=city_name,
                            address_geocoder=the_geocoder if address_geocoder is not None else None)

    return geocode


def area_agreement(cases: pd.DataFrame) -> dict[str, float | int]:
    """Return how often the point-in-polygon area equals the source's own area name, over cases
    placed by a point (lat/lon or x/y) whose export also names an area: ``n_compared``,
    ``n_agree``, ``share_agree`` (NaN when nothing is comparable), ``n_source_only`` (source
    names an area, no point in one) and ``n_point_only`` (point in an area, source names none)."""
    by_point = cases["geocode_method"].isin(POINT_METHODS) & cases["neighborhood_id"].notna()
    named = cases["source_area_id"].notna()
    both = by_point & named
    agree = int((cases.loc[both, "neighborhood_id"] == cases.loc[both, "source_area_id"]).sum())
    n = int(both.sum())
    return {"n_compared": n, "n_agree": agree, "share_agree": agree / n if n else float("nan"),
            "n_source_only": int((named & ~by_point).sum()), "n_point_only": int((by_point & ~named).sum())}


def area_disagreements(cases: pd.DataFrame) -> pd.DataFrame:
    """Return the point-placed cases whose area differs from the source's: case, both ids, point."""
    both = cases["geocode_method"].isin(POINT_METHODS) & cases["neighborhood_id"].notna() & cases["source_area_id"].notna()
    bad = both & (cases["neighborhood_id"] != cases["source_area_id"])
    return cases.loc[bad, ["case_number", "neighborhood_id", "source_area_id", "source_area_name",
                           "latitude", "longitude"]].reset_index(drop=True)

"""Adapter for substance-use treatment facility listings (three public files), Chicago only.

Sources (``treatment_facilities/`` in the data directory):

- ``samhsa_locator``: SAMHSA treatment services locator, ``name1, name2, street1, street2, city,
  state, zip, zip4, county, latitude, longitude``;
- ``samhsa_otp``: SAMHSA opioid treatment program directory, ``ID`` (the facility name),
  ``ADDRESS, CITY, STATE, POSTAL, Latitude, Longitude``; cp1252, not UTF-8;
- ``methadone_clinics``: Chicago methadone providers (GeoDa toolkit), ``"", Name, Address,
  City, State, Zip, Longitude, Latitude``.

NOTE: the methadone list masks two names as ``*`` (936 E. 93rd St., 140 N. Ashland Ave.);
those become null names. The OTP directory places Cermak Health Services (2800 South
California Ave.) at 41.724 N, about 13 km south of the address; the methadone list has it at
41.841 N. Coordinates are kept as published; the spatial join decides the neighborhood.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from schemas.treatment import FACILITIES
from schemas.errors import InputError

SOURCE_FILES = {
    "samhsa_locator": ("treatment_facilities/samhsa_substance_use_treatment_facilities.csv", "utf-8"),
    "samhsa_otp": ("treatment_facilities/samhsa_otp_directory_geocoded.csv", "cp1252"),
    "methadone_clinics": ("treatment_facilities/chicago_methadone_clinics.csv", "utf-8"),
}
RAW_COLUMNS = ("source", "name", "street", "city", "state", "zip", "latitude", "longitude")
OTP_SOURCES = ("samhsa_otp", "methadone_clinics")


def _read(path: Path, encoding: str, required: tuple[str, ...]) -> pd.DataFrame:
    if not path.exists():
        raise InputError(path, "file not found", "Check the data directory setting (PULSE_DATA_DIR)")
    try:
        frame = pd.read_csv(path, dtype="str", encoding=encoding, keep_default_na=False, na_values=[""])
    except UnicodeDecodeError as exc:
        raise InputError(path, f"bytes are not {encoding} (position {exc.start})",
                         f"Save the file as {encoding}") from None
    except pd.errors.EmptyDataError:
        raise InputError(path, "file is empty", "Re-export the facility list") from None
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise InputError(path, f"column '{missing[0]}' is missing", "Use the published layout of this list")
    return frame


def _join(*parts: pd.Series, sep: str) -> pd.Series:
    out = parts[0].fillna("")
    for p in parts[1:]:
        out = out + np.where(p.notna() & (p.str.strip() != ""), sep + p.fillna(""), "")
    return out.str.strip()


def read_facilities(data_dir: Path) -> pd.DataFrame:
    """Return the Chicago listings of the three files (city CHICAGO, state IL) as text:
    source, name, street, city, state, zip, latitude, longitude. One row per listing."""
    data_dir = Path(data_dir)
    frames = []
    rel, enc = SOURCE_FILES["samhsa_locator"]
    loc = _read(data_dir / rel, enc, ("name1", "name2", "street1", "street2", "city", "state", "zip",
                                       "latitude", "longitude"))
    frames.append(pd.DataFrame({
        "source": "samhsa_locator",
        # name2 is the program or DBA name; two programs may share a building and name1.
        "name": _join(loc["name1"], loc["name2"], sep=" - "),
        "street": _join(loc["street1"], loc["street2"], sep=", "),
        "city": loc["city"], "state": loc["state"], "zip": loc["zip"],
        "latitude": loc["latitude"], "longitude": loc["longitude"],
    }))
    rel, enc = SOURCE_FILES["samhsa_otp"]
    otp = _read(data_dir / rel, enc, ("ID", "ADDRESS", "CITY", "STATE", "POSTAL", "Latitude", "Longitude"))
    frames.append(pd.DataFrame({
        "source": "samhsa_otp", "name": otp["ID"], "street": otp["ADDRESS"], "city": otp["CITY"],
        "state": otp["STATE"], "zip": otp["POSTAL"], "latitude": otp["Latitude"], "longitude": otp["Longitude"],
    }))
    rel, enc = SOURCE_FILES["methadone_clinics"]
    mc = _read(data_dir / rel, enc, ("Name", "Address", "City", "State", "Zip", "Longitude", "Latitude"))
    frames.append(pd.DataFrame({
        "source": "methadone_clinics", "name": mc["Name"].mask(mc["Name"].str.strip() == "*"),
        "street": mc["Address"], "city": mc["City"], "state": mc["State"], "zip": mc["Zip"],
        "latitude": mc["Latitude"], "longitude": mc["Longitude"],
    }))
    allf = pd.concat(frames, ignore_index=True).astype("str")
    # Scope, not cleaning: suburbs named "Chicago Heights" / "West Chicago" are other cities.
    chicago = allf["city"].str.strip().str.upper().eq("CHICAGO") & allf["state"].str.strip().str.upper().eq("IL")
    return allf[chicago].reset_index(drop=True)[list(RAW_COLUMNS)]


def _house_zip(street: pd.Series, zip5: pd.Series) -> pd.Series:
    return street.str.extract(r"^\s*(\d+)", expand=False) + "|" + zip5


def facility_ids(source: pd.Series, name: pd.Series, street: pd.Series, zip5: pd.Series) -> pd.Series:
    """Return a stable 16-hex id per listing: sha256 of ``source|NAME|STREET|zip`` (upper, trimmed)."""
    def norm(s: pd.Series) -> pd.Series:
        return s.fillna("").str.upper().str.split().str.join(" ")
    key = norm(source) + "|" + norm(name) + "|" + norm(street) + "|" + zip5.fillna("")
    return key.map(lambda k: hashlib.sha256(k.encode("utf-8")).hexdigest()[:16]).astype("str")


def to_standard(raw: pd.DataFrame) -> pd.DataFrame:
    """Return FACILITIES rows, one per listing, with numeric coordinates and null neighborhoods.

    ``is_otp`` is true for the OTP directory and the methadone list, and for a locator listing
    at the same house number and ZIP as one of those (the locator has no OTP flag).
    """
    zip5 = raw["zip"].str.strip().str.extract(r"^(\d{5})", expand=False).astype("str")
    lat = pd.to_numeric(raw["latitude"], errors="coerce")
    lon = pd.to_numeric(raw["longitude"], errors="coerce")
    bad = lat.isna() | lon.isna()
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(f"{raw.at[raw.index[i], 'source']} listing {raw.at[raw.index[i], 'name']!r}",
                         f"coordinates '{raw['latitude'].iat[i]}, {raw['longitude'].iat[i]}' are not numbers",
                         "Fix the listing's coordinates")
    house_zip = _house_zip(raw["street"], zip5)
    otp_places = set(house_zip[raw["source"].isin(OTP_SOURCES)].dropna())
    is_otp = raw["source"].isin(OTP_SOURCES) | house_zip.isin(otp_places)
    out = pd.DataFrame({
        "facility_id": facility_ids(raw["source"], raw["name"], raw["street"], zip5),
        "name": raw["name"].str.strip(),
        "source": raw["source"],
        "street": raw["street"].str.strip(),
        "city": raw["city"].str.strip().str.upper(),
        "state": raw["state"].str.strip().str.upper(),
        "zip": zip5,
        "latitude": lat, "longitude": lon,
        "is_otp": is_otp.astype("boolean"),
        "neighborhood_id": pd.Series(pd.NA, index=raw.index, dtype="str"),
        "geocode_precision": pd.Series(pd.NA, index=raw.index, dtype="str"),
    })
    return FACILITIES.coerce(out)


def nearest_facility_distance(points: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame,
                              crs: str = "EPSG:3435") -> pd.Series:
    """Return, per point (same index), the distance in metres to the nearest facility.

    Distances are measured in ``crs`` (a projected CRS; Illinois State Plane East by default,
    whose unit is the US survey foot) and converted to metres. Empty geometries give NaN.
    """
    for name, gdf in (("points", points), ("facilities", facilities)):
        if gdf.crs is None:
            raise ValueError(f"{name} have no CRS; set one (e.g. EPSG:4326) before measuring distances")
    if len(facilities) == 0:
        raise ValueError("no facilities to measure distances to")
    left = gpd.GeoDataFrame(geometry=points.geometry.to_crs(crs).values, index=np.arange(len(points)), crs=crs)
    right = gpd.GeoDataFrame(geometry=facilities.geometry.to_crs(crs).values, crs=crs)
    if not right.crs.is_projected:
        raise ValueError(f"{crs} is not a projected CRS; distances need one")
    unit = right.crs.axis_info[0].unit_conversion_factor  # metres per CRS unit
    geoms = left.geometry.array
    usable = left[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
    joined = gpd.sjoin_nearest(usable, right, how="left", distance_col="distance")
    # Ties (two facilities equally near) repeat a point: the distance is the same, keep one.
    dist = joined["distance"].groupby(level=0).first()
    out = dist.reindex(np.arange(len(points))) * unit
    return pd.Series(out.to_numpy(), index=points.index, name="nearest_facility_m", dtype="float64")

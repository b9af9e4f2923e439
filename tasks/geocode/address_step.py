"""The geocode step of an address-based feed: free-text address (+ ZIP) -> neighborhood.

``address_geocode_step`` builds the ``FeedSpec.geocode`` function of any feed whose rows carry
a street address (treatment admissions, program sites): it runs the offline
``AddressGeocoder``, reuses and extends the warehouse ``geocode_cache``, drops the address
column so it never reaches a table, and marks rows with no usable location at all (no address
that could be located and no ZIP) for quarantine through ``GEOCODE_QUARANTINE``.

Person-level feeds pass ``cache_secret``: their cache rows are keyed by an HMAC of the
normalized address and keep no geocoder note, so the cache holds no readable address.
"""
from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

import numpy as np
import pandas as pd

from tasks.geocode.address_parser import parse_addresses
from tasks.geocode.address_geocoder import CACHE_COLUMNS, AddressGeocoder, zip5
from schemas.base import QUARANTINE_REASON as GEOCODE_QUARANTINE
from schemas.errors import InputError
from warehouse.resource import Warehouse
from warehouse.geocode_cache import read_cache, write_cache

FILLED_COLUMNS = ("neighborhood_id", "geocode_method", "geocode_precision", "match_score")
COORDINATE_COLUMNS = ("latitude", "longitude")
# Domain separation: the cache key is not the same HMAC as any person id made with the same key.
_CACHE_KEY_CONTEXT = b"pulse geocode_cache v1"


def storage_keys(addresses: pd.Series, secret: bytes | None = None) -> pd.DataFrame:
    """Return one row per distinct parseable address: ``key`` (normalized address) and
    ``storage_key`` (the cache's key: ``key`` itself, or its HMAC-SHA256 hex under ``secret``)."""
    return _storage_keys(parse_addresses(addresses)["key"], secret)


def _storage_keys(parsed_keys: pd.Series, secret: bytes | None) -> pd.DataFrame:
    keys = parsed_keys.dropna().drop_duplicates()
    if secret is None:
        stored = keys
    else:
        sub_key = hmac.new(bytes(secret), _CACHE_KEY_CONTEXT, hashlib.sha256).digest()
        stored = keys.map(lambda k: hmac.new(sub_key, k.encode("utf-8"), hashlib.sha256).hexdigest())
    return pd.DataFrame({"key": keys.to_numpy(object), "storage_key": stored.to_numpy(object)}).astype("str")


def _no_location_reason(note: pd.Series) -> pd.Series:
    """Return a quarantine reason per geocoder note that never repeats the address text."""
    text = note.fillna("").astype("str")
    unparsed = text.str.startswith("unparseable address")
    # Notes look like "street not found: W FOO ST"; only the part before ":" is kept.
    why = text.str.split(":").str[0].str.strip()
    why = why.mask(text.str.startswith("house number"), "house number off the known part of the street")
    detail = ("address is unparseable (" + text.str.extract(r"^unparseable address: ([^;]*)", expand=False).fillna("")
              + ")").where(unparsed, "address not located (" + why.where(why != "", "no address") + ")")
    return ("no usable residence location: " + detail + " and no ZIP").astype("str")


def geocode_addresses(frame: pd.DataFrame, geocoder: AddressGeocoder, address_col: str,
                      zip_col: str | None = None, cache: pd.DataFrame | None = None,
                      cache_secret: bytes | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (rows, new cache rows): ``frame`` (same rows and index) without ``address_col``,
    with ``neighborhood_id, geocode_method, geocode_precision, match_score`` filled (and
    ``latitude, longitude`` when the frame has those columns) plus ``GEOCODE_QUARANTINE``
    (a reason on rows with no located address and no ZIP, else null). Rows whose
    ``latitude, longitude`` are already given keep them and are joined as points (``latlon``).

    ``cache`` holds stored rows (``CACHE_COLUMNS``, keyed by ``storage_key``); the returned
    cache rows are the newly geocoded addresses in the same stored form.
    """
    for col in (address_col, zip_col):
        if col is not None and col not in frame.columns:
            raise InputError(f"column {col!r}", "not in the frame to geocode", "Pass an existing column name")
    parsed = parse_addresses(frame[address_col])
    keys = _storage_keys(parsed["key"], cache_secret)
    to_key = dict(zip(keys["storage_key"], keys["key"]))
    usable = None
    if cache is not None and len(cache):
        usable = cache[cache["cache_key"].isin(to_key)].assign(cache_key=lambda c: c["cache_key"].map(to_key))
    located = geocoder.geocode(frame, address_col, zip_col, cache=usable)
    new = geocoder.new_cache_rows[CACHE_COLUMNS].copy()
    new["cache_key"] = new["cache_key"].map(dict(zip(keys["key"], keys["storage_key"]))).astype("str")
    if cache_secret is not None:
        # Notes name streets ("streets do not meet: A & B"): an intersection is an address.
        new["geocode_note"] = pd.Series(pd.NA, index=new.index, dtype="str")

    zips = zip5(frame[zip_col]) if zip_col is not None else pd.Series(pd.NA, index=frame.index, dtype="str")
    has_zip = zips.notna().to_numpy() | parsed["zip"].notna().to_numpy()
    has_coordinates = set(COORDINATE_COLUMNS) <= set(frame.columns)
    given = (frame["latitude"].notna() & frame["longitude"].notna()).to_numpy() if has_coordinates \
        else np.zeros(len(frame), dtype=bool)
    if given.any():
        # Coordinates the source gives win over its address (design order: point, then address).
        points = geocoder.assign_neighborhoods(frame["latitude"][given], frame["longitude"][given])
        located = located.copy()
        rows = located.index[given]
        located.loc[rows, "latitude"] = frame["latitude"][given].to_numpy(float)
        located.loc[rows, "longitude"] = frame["longitude"][given].to_numpy(float)
        located.loc[rows, "neighborhood_id"] = points["neighborhood_id"].to_numpy(object)
        located.loc[rows, "geocode_method"] = "latlon"
        located.loc[rows, "geocode_precision"] = np.where(points["neighborhood_id"].isna(), "none", "point")
        located.loc[rows, "match_score"] = 1.0
    no_location = located["geocode_method"].eq("unmatched").to_numpy() & ~has_zip & ~given

    out = frame.drop(columns=[address_col])
    for col in FILLED_COLUMNS + (COORDINATE_COLUMNS if has_coordinates else ()):
        out[col] = located[col].to_numpy()
    out["neighborhood_id"] = out["neighborhood_id"].astype("str")
    out["match_score"] = out["match_score"].astype("float64")
    reasons = _no_location_reason(located["geocode_note"])
    out[GEOCODE_QUARANTINE] = pd.Series(np.where(no_location, reasons.to_numpy(object), None),
                                        index=frame.index, dtype="str")
    return out, new.reset_index(drop=True)


def address_geocode_step(geocoder: AddressGeocoder | Callable[[], AddressGeocoder], address_col: str, *,
                         zip_col: str | None = None, warehouse: Warehouse | None = None,
                         cache_secret: bytes | None = None) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """Return a ``FeedSpec.geocode`` function: frame -> ``geocode_addresses`` rows.

    ``geocoder`` may be a function returning one: it is then built on the first call only
    (building takes seconds; a rerun whose batches are all loaded never needs it). With a
    ``warehouse`` the step reads the ``geocode_cache`` rows of the frame's addresses before
    geocoding and writes the new ones after (the table must exist: ``init_warehouse``).
    """
    built: list[AddressGeocoder] = [geocoder] if isinstance(geocoder, AddressGeocoder) else []

    def the_geocoder() -> AddressGeocoder:
        if not built:
            built.append(geocoder())
        return built[0]

    def geocode(frame: pd.DataFrame) -> pd.DataFrame:
        if warehouse is None:
            return geocode_addresses(frame, the_geocoder(), address_col, zip_col, None, cache_secret)[0]
        cached = read_cache(warehouse, storage_keys(frame[address_col], cache_secret)["storage_key"])
        out, new = geocode_addresses(frame, the_geocoder(), address_col, zip_col, cached, cache_secret)
        write_cache(warehouse, new)
        return out

    return geocode

"""Geocode free-text Chicago addresses offline: intersections, the address grid, ZIP areas.

Methods, best first (``geocode_method`` / ``geocode_precision``):

1. ``intersection`` / ``intersection``: both streets found together in the intersection table.
2. ``address_grid`` / ``street`` (house number) or ``block`` (masked ``032XX``: the block's
   middle, number +50): interpolated along the street's own intersections on Chicago's
   calibrated address grid (see ``tasks.geocode.address_grid``). ``grid_crossing`` / ``street``: two
   streets that do not meet in the table but cross on the grid.
3. ``zip_area_share`` / ``zip``: no usable address but a ZIP: the community area holding the
   largest share of the ZIP's (ZCTA's) area, no point; ``match_score`` is that share and
   ``AddressGeocoder.zip_shares`` lists every share for areal weighting.
4. ``unmatched`` / ``none``: ``geocode_note`` says why.

Cache: results depend only on the normalized address, so they are cached by ``cache_key``.
``geocode(..., cache=rows)`` reuses rows shaped like ``CACHE_COLUMNS`` (rows of another
``geocoder_version`` are ignored) and leaves the results it computed in
``AddressGeocoder.new_cache_rows`` for the caller to store (e.g. a ``geocode_cache`` table).
ZIP fallbacks are not cached: they depend on the row's ZIP, not on the address.
"""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import Transformer

from tasks.geocode.address_parser import NormalizedAddress, parse_addresses, street_key
from tasks.geocode.address_grid import CHICAGO_GRID, AddressGrid, StreetGrid
from schemas.errors import InputError

GEOCODER_VERSION = "chicago-grid-1"
OUTPUT_COLUMNS = [
    "latitude", "longitude", "neighborhood_id", "neighborhood_name", "geocode_method",
    "geocode_precision", "match_score", "geocode_note",
]
CACHE_COLUMNS = [
    "cache_key", "latitude", "longitude", "geocode_method", "geocode_precision", "match_score",
    "geocode_note", "geocoder_version",
]
DATA_FILES = {
    "intersections": "chicago_address/chicago_intersections_dannguyen.csv",
    "street_names": "chicago_address/chicago_street_names_2014.csv",
    "zctas": "chicago_boundaries/chicago_zips.shp",
    "neighborhoods": "chicago_boundaries/community_areas.geojson",
}
FEET_PER_METRE = 1 / 0.3048006096
# Grid numbers past a street's last known intersection still trusted: half a mile, or 1.5 miles
# when the street table says the street has that number.
MAX_BEYOND, MAX_BEYOND_IN_RANGE = 400, 1200
AMBIGUOUS_FT = 150 * FEET_PER_METRE  # equally good matches further apart than this are ambiguous


class _Result(NamedTuple):
    x: float
    y: float
    geocode_method: str
    geocode_precision: str
    match_score: float
    geocode_note: str | None


def _unmatched(note: str) -> _Result:
    return _Result(np.nan, np.nan, "unmatched", "none", 0.0, note)


def cache_key(normalized: NormalizedAddress | str) -> str:
    """Return the cache key of a normalized address: its canonical key, e.g. ``3201 W FILLMORE ST``."""
    return normalized if isinstance(normalized, str) else normalized.key


def zip5(values: pd.Series) -> pd.Series:
    """Return the 5-digit ZIP of each value (``60624-2303``, 60640, 60640.0), or missing."""
    text = values.astype("str").str.strip()
    return text.str.extract(r"^(\d{5})(?:\.0+|-\d{4})?$", expand=False).astype("str")


class AddressGeocoder:
    """Geocoder built once from the reference frames; ``geocode`` adds coordinates and areas."""

    def __init__(
        self,
        intersections: pd.DataFrame,
        street_names: pd.DataFrame,
        neighborhoods: gpd.GeoDataFrame,
        zctas: gpd.GeoDataFrame | None = None,
        *,
        id_field: str = "area_numbe",
        name_field: str = "community",
        zcta_field: str = "ZCTA5CE10",
        grid: AddressGrid = CHICAGO_GRID,
        snap_tolerance_m: float = 100.0,
    ) -> None:
        names = street_names.rename(columns=lambda c: str(c).strip())  # NOTE: header "Street " has a trailing space
        for frame, where, cols in (
            (intersections, "intersections", ["street_1", "street_2", "longitude", "latitude"]),
            (names, "street names", ["Full Street Name", "Direction", "Street", "Suffix", "Suffix Direction",
                                     "Min Address", "Max Address"]),
            (neighborhoods, "neighborhoods", [id_field, name_field, "geometry"]),
        ):
            missing = [c for c in cols if c not in frame.columns]
            if missing:
                raise InputError(f"{where} reference", f"missing columns {missing}", "Pass the unchanged reference file")
        self.grid = grid
        self.snap_tolerance_ft = snap_tolerance_m * FEET_PER_METRE
        self._to_xy = Transformer.from_crs("EPSG:4326", grid.crs, always_xy=True)
        self._to_lonlat = Transformer.from_crs(grid.crs, "EPSG:4326", always_xy=True)
        inter = intersections.dropna(subset=["longitude", "latitude"]).reset_index(drop=True)
        x, y = self._to_xy.transform(inter["longitude"].to_numpy(float), inter["latitude"].to_numpy(float))
        self.street_grid = StreetGrid(inter, names, np.asarray(x), np.asarray(y), grid)
        hoods = neighborhoods[[id_field, name_field, "geometry"]].to_crs(grid.crs)
        hoods = hoods.rename(columns={id_field: "neighborhood_id", name_field: "neighborhood_name"})
        self._neighborhoods = hoods.astype({"neighborhood_id": "str", "neighborhood_name": "str"})
        self.zip_shares = (self._zip_shares(zctas, zcta_field) if zctas is not None else
                           pd.DataFrame(columns=["zip", "neighborhood_id", "neighborhood_name", "share"]))
        best = self.zip_shares.sort_values("share", ascending=False, kind="stable").drop_duplicates("zip")
        self._zip_best = best.set_index("zip")[["neighborhood_id", "neighborhood_name", "share"]]
        self.new_cache_rows = pd.DataFrame(columns=CACHE_COLUMNS)

    @classmethod
    def from_data_dir(cls, data_dir: Path | str, **kwargs) -> AddressGeocoder:
        """Return a geocoder built from the reference files under ``data_dir`` (see ``DATA_FILES``)."""
        paths = {k: Path(data_dir) / v for k, v in DATA_FILES.items()}
        for name, path in paths.items():
            if not path.exists():
                raise InputError(str(path), f"{name} reference file not found", "Point data_dir at the shared data folder")
        return cls(
            pd.read_csv(paths["intersections"]), pd.read_csv(paths["street_names"]),
            gpd.read_file(paths["neighborhoods"]), gpd.read_file(paths["zctas"]), **kwargs,
        )

    # -- public API ------------------------------------------------------------------------

    def geocode(self, frame: pd.DataFrame, address_col: str, zip_col: str | None = None,
                cache: pd.DataFrame | None = None) -> pd.DataFrame:
        """Return ``frame`` (same rows and index) plus ``OUTPUT_COLUMNS``; never drops a row.

        ``zip_col`` (optional) feeds the ZIP fallback; without it a ZIP written in the address
        text is used. ``cache``: earlier ``new_cache_rows``; this call's new results are left in
        ``self.new_cache_rows``.
        """
        for col in (address_col, zip_col):
            if col is not None and col not in frame.columns:
                raise InputError(f"column {col!r}", "not in the frame to geocode", "Pass an existing column name")
        # Work on positions so a non-unique index cannot misalign anything; restore it at the end.
        parsed = parse_addresses(frame[address_col].reset_index(drop=True))
        cached = self._usable_cache(cache)
        todo = parsed[parsed["is_parsed"] & ~parsed["key"].isin(cached.index)].drop_duplicates("key")
        records = todo.astype(object).where(todo.notna(), None).to_dict("records")
        new = pd.DataFrame([self._geocode_parsed(r) for r in records], columns=_Result._fields,
                           index=pd.Index(todo["key"], name="cache_key"))
        lon, lat = self._to_lonlat.transform(new["x"].to_numpy(float), new["y"].to_numpy(float))
        new = new.drop(columns=["x", "y"]).assign(latitude=lat, longitude=lon, geocoder_version=GEOCODER_VERSION)
        self.new_cache_rows = new.reset_index()[CACHE_COLUMNS]
        table = pd.concat([cached, new[CACHE_COLUMNS[1:]]]) if len(cached) else new[CACHE_COLUMNS[1:]]
        out = table.reindex(parsed["key"].to_numpy(object)).reset_index(drop=True)
        out = out.astype({"latitude": float, "longitude": float, "match_score": float, "geocode_note": "str"})
        unparsed = ~parsed["is_parsed"]
        out.loc[unparsed, ["geocode_method", "geocode_precision", "match_score"]] = ["unmatched", "none", 0.0]
        out.loc[unparsed, "geocode_note"] = "unparseable address: " + parsed.loc[unparsed, "parse_reason"]
        zips = parsed["zip"]
        if zip_col is not None:
            zips = zip5(frame[zip_col].reset_index(drop=True)).fillna(zips)
        out = self._zip_fallback(out, zips)
        located = self.assign_neighborhoods(out["latitude"], out["longitude"])
        has_point = out["latitude"].notna()
        for col in ("neighborhood_id", "neighborhood_name"):
            out[col] = out[col].where(~has_point, located[col]).astype("str")
        outside = has_point & out["neighborhood_id"].isna()
        out.loc[outside, "geocode_note"] = (out.loc[outside, "geocode_note"].fillna("").str.cat(
            pd.Series("point outside every neighborhood", index=out.index[outside]), sep="; ").str.lstrip("; "))
        result = frame.copy()
        for col in OUTPUT_COLUMNS:
            result[col] = out[col].to_numpy()
        return result

    def assign_neighborhoods(self, latitude: pd.Series, longitude: pd.Series) -> pd.DataFrame:
        """Return ``neighborhood_id`` / ``neighborhood_name`` per point (same index; missing when
        outside every polygon by more than the snap tolerance), joining distinct points only."""
        points = pd.DataFrame({"latitude": latitude, "longitude": longitude})
        distinct = points.dropna().drop_duplicates().reset_index(drop=True)
        x, y = self._to_xy.transform(distinct["longitude"].to_numpy(float), distinct["latitude"].to_numpy(float))
        pts = gpd.GeoDataFrame(distinct, geometry=gpd.points_from_xy(x, y), crs=self.grid.crs)
        hit = gpd.sjoin(pts, self._neighborhoods, how="left", predicate="within")
        hit = hit[~hit.index.duplicated(keep="first")]
        miss = hit["neighborhood_id"].isna()
        if miss.any() and self.snap_tolerance_ft > 0:
            # NOTE: points on a border or just off the shoreline fall outside every polygon.
            near = gpd.sjoin_nearest(pts[miss.to_numpy()], self._neighborhoods, how="inner",
                                     max_distance=self.snap_tolerance_ft)
            near = near[~near.index.duplicated(keep="first")]
            hit.loc[near.index, ["neighborhood_id", "neighborhood_name"]] = near[["neighborhood_id", "neighborhood_name"]]
        found = hit[["latitude", "longitude", "neighborhood_id", "neighborhood_name"]]
        joined = points.reset_index(drop=True).merge(found, on=["latitude", "longitude"], how="left")
        joined.index = points.index
        return joined[["neighborhood_id", "neighborhood_name"]]

    # -- matching --------------------------------------------------------------------------

    def _geocode_parsed(self, p: dict) -> _Result:
        first = (p["predir"], p["name"], p["suffix"], p["postdir"])
        if p["kind"] == "intersection":
            return self._intersection(first, (p["cross_predir"], p["cross_name"], p["cross_suffix"], p["cross_postdir"]))
        candidates = self.street_grid.candidates(*first)
        if not candidates:
            return _unmatched(f"street not found: {street_key(*first)}")
        number = int(p["number"]) + (50 if p["kind"] == "block" else 0)
        scored = sorted(((s - (0.0 if self.street_grid.in_range(k, number) else 0.3), k) for s, k in candidates),
                        key=lambda t: -t[0])
        score, key = scored[0]
        predir = self.street_grid.streets.at[key, "predir"]
        rivals = [k for s, k in scored[1:] if s >= score and self.street_grid.streets.at[k, "predir"] != predir]
        if rivals:
            return _unmatched(f"ambiguous street: {key} or {rivals[0]}")
        x, y, beyond = self.street_grid.locate(key, number, side=p["kind"] == "house")
        if beyond > (MAX_BEYOND_IN_RANGE if self.street_grid.in_range(key, number) else MAX_BEYOND):
            return _unmatched(f"house number {number} is off the known part of {key}")
        notes = [] if key == street_key(*first) else [f"matched street {key}"]
        if not self.street_grid.in_range(key, number):
            notes.append("number outside the street's address range")
        score -= beyond / 2000  # past the last known cross street the course is a guess
        precision = "block" if p["kind"] == "block" else "street"
        return _Result(x, y, "address_grid", precision, round(max(score, 0.05), 3), "; ".join(notes) or None)

    def _intersection(self, first: tuple, second: tuple) -> _Result:
        c1, c2 = self.street_grid.candidates(*first), self.street_grid.candidates(*second)
        for cands, parts in ((c1, first), (c2, second)):
            if not cands:
                return _unmatched(f"street not found: {street_key(*parts)}")
        pairs = self.street_grid.pairs
        found = [((s1 + s2) / 2, k1, k2) for s1, k1 in c1 for s2, k2 in c2 if frozenset((k1, k2)) in pairs]
        if found:
            score, k1, k2 = max(found, key=lambda t: t[0])  # first best: candidates come best first
            x, y = pairs[frozenset((k1, k2))]
            for s, o1, o2 in found:
                ox, oy = pairs[frozenset((o1, o2))]
                if s >= score and np.hypot(ox - x, oy - y) > AMBIGUOUS_FT:
                    return _unmatched(f"ambiguous intersection: {k1} & {k2} or {o1} & {o2}")
            return _Result(x, y, "intersection", "intersection", round(score, 3), None)
        for score, k1, k2 in sorted(((s1 + s2) / 2, k1, k2) for s1, k1 in c1 for s2, k2 in c2)[::-1]:
            point = self.street_grid.crossing(k1, k2)
            if point:
                note = f"{k1} and {k2} are not a listed intersection; crossed on the grid"
                return _Result(*point, "grid_crossing", "street", round(0.8 * score, 3), note)
        return _unmatched(f"streets do not meet: {street_key(*first)} & {street_key(*second)}")

    # -- cache and ZIP fallback ------------------------------------------------------------

    def _usable_cache(self, cache: pd.DataFrame | None) -> pd.DataFrame:
        if cache is None or len(cache) == 0:
            return pd.DataFrame(columns=CACHE_COLUMNS[1:], index=pd.Index([], name="cache_key"))
        missing = [c for c in CACHE_COLUMNS if c not in cache.columns]
        if missing:
            raise InputError("geocode cache", f"missing columns {missing}", "Pass rows shaped like CACHE_COLUMNS")
        current = cache[cache["geocoder_version"] == GEOCODER_VERSION]
        return current.drop_duplicates("cache_key", keep="last").set_index("cache_key")[CACHE_COLUMNS[1:]]

    def _zip_fallback(self, out: pd.DataFrame, zips: pd.Series) -> pd.DataFrame:
        out = out.assign(neighborhood_id=pd.Series(pd.NA, index=out.index, dtype="str"),
                         neighborhood_name=pd.Series(pd.NA, index=out.index, dtype="str"))
        need = out["geocode_method"].eq("unmatched") & zips.notna()
        best = self._zip_best.reindex(zips[need].to_numpy(object))
        best.index = zips[need].index
        known = best["share"].notna()
        rows, unknown = best.index[known], best.index[~known]
        out.loc[rows, ["geocode_method", "geocode_precision"]] = ["zip_area_share", "zip"]
        out.loc[rows, "match_score"] = best.loc[known, "share"].round(3)
        out.loc[rows, "neighborhood_id"] = best.loc[known, "neighborhood_id"]
        out.loc[rows, "neighborhood_name"] = best.loc[known, "neighborhood_name"]
        out.loc[rows, "geocode_note"] = out.loc[rows, "geocode_note"] + "; area from ZIP " + zips[rows]
        out.loc[unknown, "geocode_note"] = (out.loc[unknown, "geocode_note"] + "; ZIP " + zips[unknown]
                                            + " not in the ZIP areas")
        return out

    def _zip_shares(self, zctas: gpd.GeoDataFrame, zcta_field: str) -> pd.DataFrame:
        """Return one row per ZIP and community area it overlaps: ``zip, neighborhood_id,
        neighborhood_name, share`` (share of the ZIP's area inside the city; sums to 1 per ZIP)."""
        if zcta_field not in zctas.columns:
            raise InputError("ZCTA reference", f"missing column {zcta_field}", "Pass the unchanged ZCTA file")
        zips = zctas[[zcta_field, "geometry"]].to_crs(self.grid.crs).rename(columns={zcta_field: "zip"})
        pieces = gpd.overlay(zips, self._neighborhoods, how="intersection", keep_geom_type=True)
        pieces = pieces.assign(area=pieces.geometry.area)
        shares = pieces.groupby(["zip", "neighborhood_id", "neighborhood_name"], as_index=False)["area"].sum()
        shares = shares.assign(share=shares["area"] / shares.groupby("zip")["area"].transform("sum"))
        # NOTE: TIGER ZCTAs and the City's community areas are drawn separately, so a ZIP that only
        # borders an area along a street overlaps it by a sliver; pieces under 0.5% are those.
        shares = shares[shares["share"] >= 0.005]
        shares = shares.assign(share=shares["share"] / shares.groupby("zip")["share"].transform("sum"))
        return shares.drop(columns="area").sort_values(["zip", "share"], ascending=[True, False]).reset_index(drop=True)

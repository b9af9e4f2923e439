"""Offline geocoder for Chicago addresses: named intersections, the address grid, ZIP areas.

Methods, best first (``geocode_method`` / ``geocode_precision``):

1. ``intersection`` / ``intersection``: both streets of an intersection found together in the
   intersection table.
2. ``address_grid`` / ``street`` (house number) or ``block`` (masked ``032XX``: the block's
   middle, +50): Chicago numbers addresses on a grid, 800 numbers per mile from State St
   (0 E/W) and Madison St (0 N/S). Every intersection gets grid coordinates, calibrated on
   the streets whose grid number is known (numbered streets, section-line arterials); a
   house is placed by interpolating between the known intersections of its own street at
   the grid number of the house. ``grid_crossing`` / ``street``: two streets that never
   meet in the table, crossed on the grid.
3. ``zip_area_share`` / ``zip``: the community area holding the largest share of the ZIP's
   (ZCTA's) area; ``match_score`` is that share and ``zip_shares`` has all shares.
4. ``unmatched``: ``geocode_note`` says why.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import Transformer
from scipy.interpolate import LinearNDInterpolator, NearestNDInterpolator
from scipy.spatial import cKDTree

from tasks.address import SUFFIXES, NormalizedAddress, parse_addresses, street_key
from tasks.errors import InputError

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
        for frame, where, cols in (
            (intersections, "intersections", ["street_1", "street_2", "longitude", "latitude"]),
            (street_names.rename(columns=lambda c: str(c).strip()), "street names",
             ["Full Street Name", "Direction", "Street", "Suffix", "Suffix Direction", "Min Address", "Max Address"]),
            (neighborhoods, "neighborhoods", [id_field, name_field]),
        ):
            missing = [c for c in cols if c not in frame.columns]
            if missing:
                raise InputError(f"{where} reference", f"missing columns {missing}", "Pass the unchanged reference file")
        self.grid = grid
        self.id_field, self.name_field = id_field, name_field
        self.snap_tolerance_ft = snap_tolerance_m / 0.3048006096
        self._to_xy = Transformer.from_crs("EPSG:4326", grid.crs, always_xy=True)
        self._to_lonlat = Transformer.from_crs(grid.crs, "EPSG:4326", always_xy=True)
        inter = intersections.dropna(subset=["longitude", "latitude"]).reset_index(drop=True)
        self.streets = _reference_streets(inter, street_names)
        self._by_compact = {k: list(g.index) for k, g in self.streets.groupby("compact")}
        x, y = self._to_xy.transform(inter["longitude"].to_numpy(), inter["latitude"].to_numpy())
        gx, gy = self._calibrate(inter, np.asarray(x), np.asarray(y))
        self._pairs = {
            frozenset((a, b)): (lon, lat)
            for a, b, lon, lat in zip(inter["street_1"], inter["street_2"], inter["longitude"], inter["latitude"])
        }
        self._geometry = self._street_geometry(inter, np.asarray(x), np.asarray(y), gx, gy)
        hoods = neighborhoods.to_crs(grid.crs)[[id_field, name_field, "geometry"]]
        self._neighborhoods = hoods.rename(columns={id_field: "neighborhood_id", name_field: "neighborhood_name"})
        self.zip_shares = self._zip_shares(zctas, zcta_field) if zctas is not None else pd.DataFrame(
            columns=["zip", "neighborhood_id", "neighborhood_name", "share"])
        best = self.zip_shares.sort_values("share", ascending=False).drop_duplicates("zip")
        self._zip_best = best.set_index("zip")[["neighborhood_id", "neighborhood_name", "share"]]
        self.new_cache_rows = pd.DataFrame(columns=CACHE_COLUMNS)

    @classmethod
    def from_data_dir(cls, data_dir: Path | str, **kwargs) -> AddressGeocoder:
        """Build the geocoder from the reference files under ``data_dir`` (see DATA_FILES)."""
        root = Path(data_dir)
        paths = {k: root / v for k, v in DATA_FILES.items()}
        for name, path in paths.items():
            if not path.exists():
                raise InputError(str(path), f"{name} reference file not found", "Set PULSE_DATA_DIR to the shared data folder")
        return cls(
            pd.read_csv(paths["intersections"]), pd.read_csv(paths["street_names"]),
            gpd.read_file(paths["neighborhoods"]), gpd.read_file(paths["zctas"]), **kwargs,
        )

    def _zip_shares(self, zctas: gpd.GeoDataFrame, zcta_field: str) -> pd.DataFrame:
        if zcta_field not in zctas.columns:
            raise InputError("ZCTA reference", f"missing column {zcta_field}", "Pass the unchanged ZCTA file")
        zips = zctas[[zcta_field, "geometry"]].to_crs(self.grid.crs).rename(columns={zcta_field: "zip"})
        pieces = gpd.overlay(zips, self._neighborhoods, how="intersection", keep_geom_type=True)
        pieces = pieces.assign(area=pieces.geometry.area)
        shares = pieces.groupby(["zip", "neighborhood_id", "neighborhood_name"], as_index=False)["area"].sum()
        shares = shares.assign(share=shares["area"] / shares.groupby("zip")["area"].transform("sum"))
        # NOTE: slivers under 0.5% are boundary noise between two digitisations, not real overlap.
        shares = shares[shares["share"] >= 0.005]
        shares = shares.assign(share=shares["share"] / shares.groupby("zip")["share"].transform("sum"))
        return shares.drop(columns="area").sort_values(["zip", "share"], ascending=[True, False]).reset_index(drop=True)

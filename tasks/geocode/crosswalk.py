"""Carry values published for police units (districts, sectors) to community areas.

``areal_crosswalk`` intersects two polygon sets in a projected CRS and weights each piece by the
population living in it, estimated as the target area's population times the piece's share of
that area (uniform density inside a community area: the finest population we have is per area).

- ``normalize="target"`` (for scores, i.e. averages such as sentiment): weights sum to 1 per
  target area over the units covering it; an area's score is the population-weighted mean of
  its units' scores. With population known only per area this equals area weighting.
- ``normalize="source"`` (for counts): weights sum to 1 per unit; a unit's count is split over
  the areas it covers in proportion to their residents in it.

Pieces smaller than ``min_share`` of both polygons are boundary slivers (the City draws police
units and community areas separately along the same streets) and are dropped before weighting.
"""
from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

CROSSWALK_COLUMNS = ["unit_id", "neighborhood_id", "overlap_km2", "target_share", "source_share", "weight"]


def police_units(beats: gpd.GeoDataFrame, districts: gpd.GeoDataFrame, level: str) -> gpd.GeoDataFrame:
    """Return police unit polygons (``unit_id``, geometry) in the boundary files' CRS.

    ``level="district"``: districts by ``dist_num`` as text without zeros ("16"; district 31, the
    unincorporated/airport pieces, is dissolved into one unit). ``level="sector"``: beats grouped
    by their first three digits, coded like the sentiment file: district + sector digit + "0"
    (beats 1611-1614 -> "1610", 0312 -> "310").
    """
    if level == "district":
        ids = pd.to_numeric(districts["dist_num"], errors="raise").astype(int).astype(str)
        frame = gpd.GeoDataFrame({"unit_id": ids.to_numpy()}, geometry=districts.geometry.values, crs=districts.crs)
    elif level == "sector":
        beat = beats["beat_num"].astype(str).str.strip().str.zfill(4)
        ids = (beat.str[:3].astype(int) * 10).astype(str)
        frame = gpd.GeoDataFrame({"unit_id": ids.to_numpy()}, geometry=beats.geometry.values, crs=beats.crs)
    else:
        raise ValueError(f"level must be 'district' or 'sector', not {level!r}")
    return frame.dissolve(by="unit_id", as_index=False)[["unit_id", "geometry"]]


def areal_crosswalk(units: gpd.GeoDataFrame, targets: gpd.GeoDataFrame, *, projected_crs: str,
                    population: pd.Series | None = None, normalize: str = "target",
                    min_share: float = 0.005) -> pd.DataFrame:
    """Return one row per (unit, target) overlap: ``CROSSWALK_COLUMNS``.

    ``units`` has ``unit_id``, ``targets`` has ``neighborhood_id`` (both with geometry and a CRS);
    ``population`` is indexed by ``neighborhood_id`` (None: area weights). ``target_share`` and
    ``source_share`` are the piece's share of the target's and the unit's area; ``weight`` sums
    to 1 per target (``normalize="target"``) or per unit (``"source"``).
    """
    if normalize not in ("target", "source"):
        raise ValueError(f"normalize must be 'target' or 'source', not {normalize!r}")
    for name, gdf in (("units", units), ("targets", targets)):
        if gdf.crs is None:
            raise ValueError(f"{name} have no CRS; set one before building a crosswalk")
    u = units[["unit_id", "geometry"]].to_crs(projected_crs)
    t = targets[["neighborhood_id", "geometry"]].to_crs(projected_crs)
    unit_m2 = u.crs.axis_info[0].unit_conversion_factor ** 2
    u_area = pd.Series(u.geometry.area.to_numpy(), index=u["unit_id"].astype(str))
    t_area = pd.Series(t.geometry.area.to_numpy(), index=t["neighborhood_id"].astype(str))
    pieces = gpd.overlay(u, t, how="intersection", keep_geom_type=True)
    pieces = pieces.assign(area=pieces.geometry.area, unit_id=pieces["unit_id"].astype(str),
                           neighborhood_id=pieces["neighborhood_id"].astype(str))
    pieces = pieces.groupby(["unit_id", "neighborhood_id"], as_index=False)["area"].sum()
    pieces["target_share"] = pieces["area"] / pieces["neighborhood_id"].map(t_area)
    pieces["source_share"] = pieces["area"] / pieces["unit_id"].map(u_area)
    pieces = pieces[(pieces["target_share"] >= min_share) | (pieces["source_share"] >= min_share)]
    if population is not None:
        pop = pd.Series(population).rename(index=str).astype(float)
        missing = sorted(set(pieces["neighborhood_id"]) - set(pop.index))
        if missing:
            raise ValueError(f"population lacks neighborhoods {missing[:5]}")
        mass = pieces["neighborhood_id"].map(pop).to_numpy() * pieces["target_share"].to_numpy()
    else:
        mass = pieces["area"].to_numpy()
    group = pieces["neighborhood_id"] if normalize == "target" else pieces["unit_id"]
    total = pd.Series(mass, index=pieces.index).groupby(group.to_numpy()).transform("sum").to_numpy()
    pieces["weight"] = np.divide(mass, total, out=np.zeros_like(mass, dtype=float), where=total > 0)
    pieces["overlap_km2"] = (pieces["area"] * unit_m2 / 1e6).round(4)
    out = pieces[CROSSWALK_COLUMNS].sort_values(["neighborhood_id", "unit_id"],
                                                key=lambda s: pd.to_numeric(s, errors="coerce"))
    return out.reset_index(drop=True)


def carry_to_areas(values: pd.DataFrame, crosswalk: pd.DataFrame, value_columns: list[str],
                   by: list[str]) -> pd.DataFrame:
    """Return per ``neighborhood_id`` and ``by`` group the weighted mean of each value column over
    the units with a value, plus ``coverage_<col>`` (sum of the weights of units that had one;
    1.0 = every unit covering the area reported). Needs target-normalized weights.

    ``values`` has ``unit_id``, the ``by`` columns and the value columns, one row per unit and group.
    """
    if values.duplicated(["unit_id", *by]).any():
        raise ValueError("values repeat a unit within a group; de-duplicate them first")
    joined = values.assign(unit_id=values["unit_id"].astype(str)).merge(
        crosswalk[["unit_id", "neighborhood_id", "weight"]], on="unit_id", how="inner")
    parts = []
    keys = ["neighborhood_id", *by]
    for col in value_columns:
        has = joined[col].notna()
        frame = joined[has].assign(wv=joined.loc[has, col] * joined.loc[has, "weight"])
        agg = frame.groupby(keys, as_index=False).agg(wv=("wv", "sum"), w=("weight", "sum"))
        agg[col] = agg["wv"] / agg["w"]
        agg[f"coverage_{col}"] = agg["w"].round(6)
        parts.append(agg[keys + [col, f"coverage_{col}"]].set_index(keys))
    out = pd.concat(parts, axis=1).reset_index()
    return out.sort_values(keys, key=lambda s: pd.to_numeric(s, errors="coerce") if s.name == "neighborhood_id" else s) \
        .reset_index(drop=True)


def police_crosswalk(beats: gpd.GeoDataFrame, districts: gpd.GeoDataFrame, targets: gpd.GeoDataFrame, *,
                     projected_crs: str, population: pd.Series | None = None) -> pd.DataFrame:
    """Return the district and sector crosswalks in one table (``unit_level`` + ``CROSSWALK_COLUMNS``),
    target-normalized (weights sum to 1 per community area and level): the rows of a
    ``dim_police_unit_crosswalk`` table that ``mart_community_voice`` joins on."""
    parts = []
    for level in ("district", "sector"):
        cw = areal_crosswalk(police_units(beats, districts, level), targets, projected_crs=projected_crs,
                             population=population, normalize="target")
        parts.append(cw.assign(unit_level=level))
    return pd.concat(parts, ignore_index=True)[["unit_level", *CROSSWALK_COLUMNS]]

"""Which areas neighbour which: contiguity weights with islands attached, and projected centroids.

Hot spots (Gi*) and the space-time scan both need every area to have at least one neighbour. Real
boundary files have islands and exclaves (Boston's Harbor Islands and East Boston touch no other
neighbourhood polygon), so an area without a contiguous neighbour gets its ``k`` nearest areas by
centroid distance (``islands = "knn"``) or every area whose centroid lies within ``threshold_km``
(``islands = "distance_band"``). The links are made symmetric (as libpysal's ``attach_islands``
does for k = 1): if East Boston counts Charlestown as a neighbour, Charlestown counts East Boston.
The rule is a parameter the city config sets, e.g. ``{rule = "queen", islands = "knn", k = 3}``.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import shapely
from libpysal.weights import KNN, DistanceBand, Queen, Rook, W

from schemas.errors import ConfigError, InputError

RULES = {"queen": Queen, "rook": Rook}
ISLAND_RULES = ("knn", "distance_band", "error")


@dataclass(frozen=True)
class WeightsRule:
    """How areas become neighbours: contiguity ``rule`` and what islands get instead."""

    rule: str = "queen"
    islands: str = "knn"
    k: int = 3
    threshold_km: float | None = None

    def __post_init__(self) -> None:
        where = "weights"
        if self.rule not in RULES:
            raise ConfigError(where, f"rule {self.rule!r} is not one of {', '.join(RULES)}", "Use queen or rook")
        if self.islands not in ISLAND_RULES:
            raise ConfigError(where, f"islands {self.islands!r} is not one of {', '.join(ISLAND_RULES)}",
                              "Use knn (with k) or distance_band (with threshold_km)")
        if not isinstance(self.k, int) or isinstance(self.k, bool) or self.k < 1:
            raise ConfigError(where, f"k must be a whole number >= 1, not {self.k!r}", "Set k = 3, for example")
        if self.islands == "distance_band" and not (isinstance(self.threshold_km, (int, float))
                                                    and self.threshold_km > 0):
            raise ConfigError(where, "islands = 'distance_band' needs threshold_km > 0",
                              "Set threshold_km, e.g. 3.0, or use islands = 'knn'")

    @classmethod
    def parse(cls, value: WeightsRule | Mapping[str, Any] | None) -> WeightsRule:
        """Return ``value`` as a WeightsRule (None = defaults); unknown keys raise ConfigError."""
        if value is None:
            return cls()
        if isinstance(value, cls):
            return value
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(value) - known)
        if unknown:
            raise ConfigError("weights", f"unknown key(s) {', '.join(unknown)}", f"Use {', '.join(sorted(known))}")
        return cls(**dict(value))


def valid_polygons(gdf):
    """Return a copy of ``gdf`` whose invalid polygons are repaired (``make_valid``, polygonal parts kept).

    NOTE: Boston's Hyde Park ring self-intersects (boston/PROVENANCE.md); contiguity and centroids on
    the raw ring are unreliable, so every consumer of the polygons goes through here.
    """
    out = gdf.copy()
    bad = ~out.geometry.is_valid
    if bad.any():
        fixed = shapely.make_valid(out.geometry[bad].to_numpy(), method="structure", keep_collapsed=False)
        out.loc[bad, out.geometry.name] = fixed
    return out


def projected_centroids(gdf) -> np.ndarray:
    """Return an (n, 2) array of polygon centroids in metres (lon/lat data go to their UTM zone)."""
    if gdf.crs is None:
        raise InputError("neighborhoods", "polygons have no CRS", "Set the boundary file's CRS (e.g. EPSG:4326)")
    proj = gdf.to_crs(gdf.estimate_utm_crs()) if gdf.crs.is_geographic else gdf
    factor = proj.crs.axis_info[0].unit_conversion_factor if proj.crs.axis_info else 1.0
    c = proj.geometry.centroid
    return np.column_stack([c.x.to_numpy(), c.y.to_numpy()]) * factor


def area_weights(gdf, id_field: str = "neighborhood_id", weights: WeightsRule | Mapping | None = None) -> W:
    """Return binary, symmetric neighbour weights over the areas (ids = ``id_field`` as str, no self-links).

    Contiguity by ``weights.rule``; areas left without a neighbour are linked per ``weights.islands``
    (see the module docstring). ``w.islands_attached`` lists the areas that were. Raises InputError on
    a missing id field, duplicate ids, or an island the rule cannot attach; ConfigError on a bad rule.
    """
    rule = WeightsRule.parse(weights)
    if id_field not in gdf.columns:
        raise InputError("neighborhoods", f"has no column {id_field!r}", "Pass the id field of the polygons")
    ids = gdf[id_field].astype("str")
    if ids.duplicated().any():
        raise InputError("neighborhoods", f"duplicate {id_field} {ids[ids.duplicated()].iloc[0]!r}",
                         "Dissolve to one polygon per area")
    polys = valid_polygons(gdf).set_index(ids)
    w = RULES[rule.rule].from_dataframe(polys, use_index=True, silence_warnings=True)
    neighbors = {str(i): [str(j) for j in w.neighbors[i]] for i in w.id_order}
    islands = [str(i) for i in w.islands]
    if islands:
        if rule.islands == "error" or len(ids) < 2:
            raise InputError("neighborhoods", f"area(s) {', '.join(islands)} touch no other area",
                             "Set weights.islands = 'knn' (or 'distance_band') or check the polygons")
        _attach(neighbors, islands, list(ids), projected_centroids(polys), rule)
    out = W(neighbors, id_order=list(ids), silence_warnings=True)
    out.transform = "B"
    out.islands_attached = islands
    out.rule = rule
    return out


def _attach(neighbors: dict[str, list[str]], islands: list[str], ids: list[str], xy: np.ndarray,
            rule: WeightsRule) -> None:
    """Link each island to its k nearest (or within-band) areas, both ways; edits ``neighbors`` in place."""
    if rule.islands == "knn":
        near = KNN.from_array(xy, k=min(rule.k, len(ids) - 1), ids=ids, silence_warnings=True)
    else:
        near = DistanceBand.from_array(xy, threshold=rule.threshold_km * 1000.0, binary=True, ids=ids,
                                       silence_warnings=True)
    for island in islands:
        found = [str(j) for j in near.neighbors[island]]
        if not found:
            raise InputError("neighborhoods", f"area {island} has no other centroid within {rule.threshold_km} km",
                             "Raise weights.threshold_km or use islands = 'knn'")
        for j in found:
            if j not in neighbors[island]:
                neighbors[island].append(j)
            if island not in neighbors[j]:
                neighbors[j].append(island)

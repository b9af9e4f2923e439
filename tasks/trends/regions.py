"""Pooling regions for sparse areas: groups of adjacent areas built from the boundary polygons.

An area with fewer than ``sparse_below`` events per day (recent mean) gets too few counts for a
daily detector to say anything; adjacent sparse areas are pooled into regions until a region
reaches ``min_rate`` events per day. Contiguity is queen contiguity of the polygons (libpysal),
so any city's boundary file works; an area touching no other (an island) is joined to its
nearest neighbour by centroid. Regions are a partition of the sparse areas; a sparse area with
no sparse neighbour joins the adjacent region with the lowest rate, or stays alone (its own
series then covers it). Region keys are ``R:<id>+<id>+...`` (ids in natural order), stable
across runs while the membership holds.
"""
from __future__ import annotations

from collections.abc import Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
from libpysal.weights import KNN, Queen
from shapely import from_wkt

from schemas.errors import InputError
from tasks.trends.series import id_order

REGION_PREFIX = "R:"


def adjacency(neighborhoods: pd.DataFrame) -> dict[str, set[str]]:
    """Return queen-contiguity neighbours per neighborhood_id from ``geometry_wkt`` (islands: nearest one)."""
    if "geometry_wkt" not in neighborhoods.columns or neighborhoods["geometry_wkt"].isna().any():
        raise InputError("neighborhoods", "geometry_wkt is missing for some area",
                         "Load the boundary polygons into dim_neighborhoods")
    ids = neighborhoods["neighborhood_id"].astype(str).tolist()
    gdf = gpd.GeoDataFrame({"neighborhood_id": ids}, geometry=from_wkt(neighborhoods["geometry_wkt"]),
                           crs="EPSG:4326").set_index("neighborhood_id")
    w = Queen.from_dataframe(gdf, use_index=True, silence_warnings=True)
    out = {i: {str(j) for j in w.neighbors[i]} for i in ids}
    if w.islands:
        # Centroids in degrees are fine for "nearest": only the ranking matters.
        cents = gpd.GeoDataFrame(geometry=gdf.geometry.representative_point(), index=gdf.index)
        knn = KNN.from_dataframe(cents, k=1, use_index=True, silence_warnings=True)
        for i in w.islands:
            j = str(knn.neighbors[i][0])
            out[str(i)].add(j)
            out[j].add(str(i))
    return out


def region_key(members) -> str:
    """Return the key of the region made of ``members`` (neighborhood ids)."""
    return REGION_PREFIX + "+".join(sorted(map(str, members), key=id_order))


def region_members(key: str | None) -> list[str]:
    """Return the neighborhood ids of a region key, ``[key]`` for a plain id, [] for citywide (None)."""
    if key is None:
        return []
    return key[len(REGION_PREFIX):].split("+") if key.startswith(REGION_PREFIX) else [key]


def pooled_regions(neighborhoods: pd.DataFrame, rates: Mapping[str, float], sparse_below: float = 0.2,
                   min_rate: float = 0.2) -> dict[str, list[str]]:
    """Return regions {key: member ids} that partition the areas with ``rates`` below ``sparse_below``.

    Greedy and deterministic: the sparse area with the fewest free sparse neighbours seeds a
    region, which takes its best-connected free sparse neighbour (then the higher rate) until
    its rate reaches ``min_rate``. Singletons join the adjacent region of lowest rate, if any.
    """
    nbrs = adjacency(neighborhoods)
    sparse = {i for i in nbrs if float(rates.get(i, 0.0)) < sparse_below}
    free, regions = set(sparse), []
    while free:
        seed = min(free, key=lambda i: (len(nbrs[i] & free), rates.get(i, 0.0), id_order(i)))
        region = {seed}
        free.discard(seed)
        while sum(rates.get(i, 0.0) for i in region) < min_rate:
            options = set().union(*(nbrs[i] for i in region)) & free
            if not options:
                break
            best = max(options, key=lambda j: (len(nbrs[j] & region), rates.get(j, 0.0), _neg(id_order(j))))
            region.add(best)
            free.discard(best)
        regions.append(region)
    regions = _merge_singletons(regions, nbrs, rates)
    return {region_key(r): sorted(r, key=id_order) for r in sorted(regions, key=lambda r: id_order(min(r, key=id_order)))}


def _merge_singletons(regions: list[set[str]], nbrs: dict[str, set[str]], rates) -> list[set[str]]:
    """Join one-area regions to the adjacent multi-area region with the lowest rate (else keep them)."""
    multi = [r for r in regions if len(r) > 1]
    for r in (r for r in regions if len(r) == 1):
        (i,) = r
        touching = [m for m in multi if nbrs[i] & m]
        if touching:
            min(touching, key=lambda m: sum(rates.get(j, 0.0) for j in m)).add(i)
        else:
            multi.append(r)
    return multi


def _neg(key: tuple) -> tuple:
    """Invert an id_order key for max(): the smallest id wins ties."""
    return tuple(-k if isinstance(k, (int, float)) else tuple(-ord(c) for c in k) for k in key)


def region_series(wide: pd.DataFrame, regions: Mapping[str, list[str]]) -> pd.DataFrame:
    """Return (period x region) sums of the member columns of ``wide`` (NaN periods stay NaN)."""
    cols = {k: wide[m].sum(axis=1, min_count=len(m)) for k, m in regions.items()}
    return pd.DataFrame(cols, index=wide.index) if cols else pd.DataFrame(index=wide.index)


def recent_rates(wide: pd.DataFrame, periods: int, days_per_period: int = 1) -> dict[str, float]:
    """Return each column's mean events per day over its last ``periods`` observed periods."""
    tail = wide.iloc[-periods:]
    return {str(c): float(np.nanmean(tail[c].to_numpy(float))) / days_per_period for c in wide.columns}

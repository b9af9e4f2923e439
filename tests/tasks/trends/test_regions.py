"""Pooling regions from polygons: contiguity, greedy growth to a rate, keys, islands."""
from __future__ import annotations

import pandas as pd
import pytest

from schemas.errors import InputError
from tasks.trends.regions import adjacency, pooled_regions, region_key, region_members


def grid(n=3, island=False):
    """n x n unit squares with ids 1..n*n row by row (plus a far-away square 99 with ``island``)."""
    rows = []
    for r in range(n):
        for c in range(n):
            rows.append((str(r * n + c + 1), f"POLYGON(({c} {r}, {c + 1} {r}, {c + 1} {r + 1}, {c} {r + 1}, {c} {r}))"))
    if island:
        rows.append(("99", "POLYGON((10 10, 11 10, 11 11, 10 11, 10 10))"))
    return pd.DataFrame(rows, columns=["neighborhood_id", "geometry_wkt"])


def test_adjacency_is_queen_contiguity_with_islands_joined():
    nbrs = adjacency(grid(island=True))
    assert nbrs["5"] == {"1", "2", "3", "4", "6", "7", "8", "9"}
    assert nbrs["1"] == {"2", "4", "5"}
    assert nbrs["99"] == {"9"} and "99" in nbrs["9"]


def test_sparse_areas_pool_into_contiguous_regions_of_the_target_rate():
    rates = {str(i): 0.05 for i in range(1, 10)}
    rates["5"] = 2.0  # busy centre: not pooled
    regions = pooled_regions(grid(), rates, sparse_below=0.2, min_rate=0.1)
    members = [m for ms in regions.values() for m in ms]
    assert sorted(members, key=int) == ["1", "2", "3", "4", "6", "7", "8", "9"]  # a partition of the sparse
    nbrs = adjacency(grid())
    for key, ms in regions.items():
        assert key == region_key(ms) and region_members(key) == ms
        assert sum(rates[m] for m in ms) >= 0.1
        for m in ms:  # every member touches another member
            assert nbrs[m] & (set(ms) - {m})


def test_keys_round_trip_and_plain_ids():
    assert region_key(["10", "2", "9"]) == "R:2+9+10"
    assert region_members("R:2+9+10") == ["2", "9", "10"]
    assert region_members("7") == ["7"] and region_members(None) == []


def test_missing_geometry_is_an_input_error():
    bad = grid().assign(geometry_wkt=None)
    with pytest.raises(InputError, match="geometry_wkt"):
        pooled_regions(bad, {})

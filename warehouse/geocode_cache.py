"""Read and write the ``geocode_cache`` table: address geocoding results keyed by normalized address.

Nothing is geocoded twice: a feed reads the cache rows for its keys, geocodes the rest and
writes the new rows back. Analysts cannot read it (it holds normalized addresses).
"""
from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
from sqlalchemy import select

from warehouse.resource import Warehouse
from warehouse.tables import geocode_cache

CACHE_COLUMNS = [c.name for c in geocode_cache.columns if c.name != "cached_at"]


def read_cache(wh: Warehouse, keys: Iterable[str]) -> pd.DataFrame:
    """Return cached rows for the given keys (columns CACHE_COLUMNS)."""
    keys = sorted({k for k in keys if k})
    rows = []
    with wh.connect() as conn:
        for i in range(0, len(keys), 5000):
            part = keys[i: i + 5000]
            rows += conn.execute(select(*[geocode_cache.c[c] for c in CACHE_COLUMNS])
                                 .where(geocode_cache.c.cache_key.in_(part))).all()
    return pd.DataFrame(rows, columns=CACHE_COLUMNS)


def write_cache(wh: Warehouse, rows: pd.DataFrame) -> int:
    """Insert new cache rows (keys already present are left as they are); returns rows written."""
    if rows is None or rows.empty:
        return 0
    fresh = rows[CACHE_COLUMNS].drop_duplicates("cache_key")
    existing = set(read_cache(wh, fresh["cache_key"])["cache_key"])
    fresh = fresh[~fresh["cache_key"].isin(existing)]
    if fresh.empty:
        return 0
    now = pd.Timestamp.now().floor("s").to_pydatetime()
    records = fresh.astype(object).where(fresh.notna(), None).to_dict("records")
    with wh.begin() as conn:
        conn.execute(geocode_cache.insert(), [{**r, "cached_at": now} for r in records])
    return len(records)

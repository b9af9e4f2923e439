"""Write and read the trend results (``trend_signals``, ``program_impact``, ``alert_episodes``; tables in
warehouse.tables).

All three are derived tables: each trends run replaces their whole contents in one transaction, so a
rerun on the same warehouse leaves exactly the same rows. Column meanings: docs/methods.md.
"""
from __future__ import annotations

import pandas as pd
from sqlalchemy import select

from warehouse.resource import Warehouse
from warehouse.tables import (EPISODE_TABLE_COLUMNS, IMPACT_TABLE_COLUMNS, SIGNAL_TABLE_COLUMNS, alert_episodes,
                              program_impact, trend_signals)



def replace_trend_tables(wh: Warehouse, signals: pd.DataFrame, impact: pd.DataFrame,
                         episodes: pd.DataFrame) -> dict[str, int]:
    """Replace the three tables' contents in ONE transaction; returns rows written per table.

    ``signals`` has ``SIGNAL_TABLE_COLUMNS``, ``impact`` ``IMPACT_TABLE_COLUMNS``, ``episodes``
    ``EPISODE_TABLE_COLUMNS``: a reader never sees episodes of one run beside signals of another.
    """
    frames = {trend_signals: _for_sql(signals, SIGNAL_TABLE_COLUMNS, ("period_start", "period_end")),
              program_impact: _for_sql(impact, IMPACT_TABLE_COLUMNS, ("started_on",)),
              alert_episodes: _for_sql(episodes, EPISODE_TABLE_COLUMNS, ("start_period", "end_period", "peak_period"))}
    with wh.begin() as conn:
        for table, frame in frames.items():
            conn.execute(table.delete())
            wh.insert_frame(conn, table.name, frame)
    return {table.name: len(frame) for table, frame in frames.items()}


def read_episode_ids(wh: Warehouse) -> set[str]:
    """Return the ``episode_id``s the previous trends run stored (a rerun alerts none of them again)."""
    with wh.connect() as conn:
        return {r[0] for r in conn.execute(select(alert_episodes.c.episode_id)).all()}


def _for_sql(frame: pd.DataFrame, columns: list[str], dates: tuple[str, ...]) -> pd.DataFrame:
    """Return the columns in table order with dates as datetime.date-compatible values and nullable ints."""
    out = frame[columns].copy()
    for col in dates:
        out[col] = pd.to_datetime(out[col]).dt.normalize()
    for col in ("is_headline", "is_ongoing"):
        if col in out:
            out[col] = out[col].astype(bool)
    if "neighborhood_id" in out:
        out["neighborhood_id"] = out["neighborhood_id"].astype(object).where(out["neighborhood_id"].notna(), None)
    return out.reset_index(drop=True)

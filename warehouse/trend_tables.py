"""SQLAlchemy tables for the trend results (``trend_signals``, ``program_impact``) and their writer.

Both are derived tables: each trends run replaces their whole contents in one transaction, so a
rerun on the same warehouse leaves exactly the same rows. Column meanings: docs/methods.md.
"""
from __future__ import annotations

import pandas as pd
from sqlalchemy import BigInteger, Column, Date, DateTime, Engine, Double, Table, Text, select

from tasks.trends.impact import PROGRAM_IMPACT_COLUMNS
from tasks.trends.detectors import TREND_SIGNAL_COLUMNS
from warehouse.engine import is_duckdb
from warehouse.metadata import metadata

# Extra columns beside the detectors' contracts: the series grain and when the run computed them.
SIGNAL_TABLE_COLUMNS = [*TREND_SIGNAL_COLUMNS, "grain", "computed_at"]
IMPACT_TABLE_COLUMNS = [*PROGRAM_IMPACT_COLUMNS, "metric", "computed_at"]

trend_signals = Table(
    "trend_signals", metadata,
    Column("neighborhood_id", Text, comment="null = citywide"),
    Column("metric", Text, nullable=False, comment="e.g. drug_incidents, admissions"),
    Column("period_start", Date, nullable=False),
    Column("period_end", Date, nullable=False, comment="last day of the period, inclusive"),
    Column("method", Text, nullable=False,
           comment="seasonal_mann_kendall | mann_kendall | ears_c1 | ears_c2 | ears_c3 | emerging_hotspot"),
    Column("statistic", Double),
    Column("p_value", Double),
    Column("score", Double, comment="MK: Sen's slope per year; EARS: C - threshold; hot spot: final Gi* z"),
    Column("level", Text, nullable=False, comment="trend direction, alarm, or hot spot category"),
    Column("details", Text, comment="JSON object with the method's supporting numbers"),
    Column("grain", Text, nullable=False, comment="day | week | month: the series the method ran on"),
    Column("computed_at", DateTime, nullable=False),
    comment="one row per (neighborhood or citywide, metric, grain, method, period); EARS rows are alarms only",
)

program_impact = Table(
    "program_impact", metadata,
    Column("program_id", Text, nullable=False),
    Column("neighborhood_id", Text),
    Column("started_on", Date),
    Column("method", Text, nullable=False, comment="its | did | not_estimated"),
    Column("estimate", Double, comment="rate ratio: ITS level change, DiD treated x post"),
    Column("ci_low", Double),
    Column("ci_high", Double),
    Column("p_value", Double),
    Column("n_pre", BigInteger, comment="months before the program start"),
    Column("n_post", BigInteger, comment="months from the program start"),
    Column("details", Text, comment="JSON: every fitted number, or 'skipped' with the reason"),
    Column("metric", Text, nullable=False),
    Column("computed_at", DateTime, nullable=False),
    comment="one row per program and method; programs that cannot be estimated keep a row saying why",
)


def replace_trend_tables(engine: Engine, signals: pd.DataFrame, impact: pd.DataFrame) -> dict[str, int]:
    """Replace both tables' contents in ONE transaction; returns rows written per table.

    ``signals`` has ``SIGNAL_TABLE_COLUMNS``, ``impact`` has ``IMPACT_TABLE_COLUMNS``.
    """
    frames = {trend_signals: _for_sql(signals, SIGNAL_TABLE_COLUMNS, ("period_start", "period_end")),
              program_impact: _for_sql(impact, IMPACT_TABLE_COLUMNS, ("started_on",))}
    with engine.begin() as conn:
        for table, frame in frames.items():
            conn.execute(table.delete())
            if frame.empty:
                continue
            if is_duckdb(engine):
                # NOTE: executemany through duckdb_engine inserts row by row (~89 s per 1M rows,
                # STACK_NOTES); a registered frame + INSERT ... SELECT runs in the same transaction.
                raw = conn.connection.driver_connection
                view = f"trend_frame_{table.name}"
                raw.register(view, frame)
                cols = ", ".join(f'"{c}"' for c in frame.columns)
                raw.execute(f'INSERT INTO "{table.name}" ({cols}) SELECT {cols} FROM {view}')
                raw.unregister(view)
            else:
                records = frame.astype(object).where(frame.notna(), None).to_dict("records")
                conn.execute(table.insert(), records)
    return {table.name: len(frame) for table, frame in frames.items()}


def read_signal_keys(engine: Engine) -> pd.DataFrame:
    """Return the stored signals' identity (neighborhood_id, metric, grain, method, period_start, level)."""
    cols = [trend_signals.c[c] for c in ("neighborhood_id", "metric", "grain", "method", "period_start", "level")]
    with engine.connect() as conn:
        rows = conn.execute(select(*cols)).all()
    frame = pd.DataFrame(rows, columns=[c.name for c in cols])
    frame["period_start"] = pd.to_datetime(frame["period_start"])
    return frame


def _for_sql(frame: pd.DataFrame, columns: list[str], dates: tuple[str, ...]) -> pd.DataFrame:
    """Return the columns in table order with dates as datetime.date-compatible values and nullable ints."""
    out = frame[columns].copy()
    for col in dates:
        out[col] = pd.to_datetime(out[col]).dt.normalize()
    if "neighborhood_id" in out:
        out["neighborhood_id"] = out["neighborhood_id"].astype(object).where(out["neighborhood_id"].notna(), None)
    return out.reset_index(drop=True)

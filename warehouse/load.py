"""Idempotent batch loads: staged Parquet -> one transaction that merges by natural key.

A batch's processed chunks are staged as Parquet files outside the warehouse. ``merge_batch``
then, in ONE transaction, bulk-copies them into a temporary table (DuckDB: ``read_parquet``;
PostgreSQL: ``COPY … FROM STDIN``), replaces rows whose version is newer, inserts new keys,
appends the batch's quarantine rows and writes the ``load_audit`` row (and the source watermark).
Any failure rolls all of it back, so the warehouse holds the state before or after a batch.
"""
from __future__ import annotations

import shutil
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Table, func, select, text

from schemas.base import EntitySchema
from schemas.failpoints import failpoint
from warehouse.resource import Warehouse, quote as _q
from warehouse.tables import load_audit, metadata, source_watermarks


@dataclass
class BatchInfo:
    batch_id: str
    source: str
    entity: str
    rows_read: int
    sha256: str | None = None
    source_path: str | None = None
    watermark: str | None = None
    flow_run_id: str | None = None
    started_at: datetime | None = None


def init_warehouse(wh: Warehouse) -> None:
    """Create every table that does not exist yet (and PostGIS on PostgreSQL when available)."""
    if not wh.is_duckdb:
        with wh.begin() as conn:
            has_postgis = conn.execute(text("SELECT 1 FROM pg_available_extensions WHERE name='postgis'")).first()
            if has_postgis:
                conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
    metadata.create_all(wh.engine, checkfirst=True)


def write_stage(stage_dir: Path, name: str, frame: pd.DataFrame) -> Path:
    """Write one processed chunk (or quarantine part) as Parquet; returns its path."""
    stage_dir.mkdir(parents=True, exist_ok=True)
    path = stage_dir / f"{name}.parquet"
    tmp = path.with_suffix(".tmp")
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp)
    tmp.replace(path)
    return path


def clear_stage(stage_dir: Path) -> None:
    shutil.rmtree(stage_dir, ignore_errors=True)


def merge_batch(wh: Warehouse, schema: EntitySchema, batch: BatchInfo, data_files: Sequence[Path],
                quarantine_files: Sequence[Path], rows_quarantined: int, validation_success: bool = True,
                advance_watermark: str | None = None, children: Sequence[tuple[EntitySchema, Sequence[Path]]] = (),
                refresh_columns: Sequence[str] = (), rows_loaded: int | None = None) -> dict[str, int]:
    """Merge a staged batch into ``schema.table`` (and its ``children`` tables) in one transaction.

    A staged row replaces the stored row with the same key when ``schema.version_column`` is
    newer (or, without a version column, always); new keys are inserted; the rest is unchanged.
    ``refresh_columns`` are then set from the staged rows on every stored row of the batch's keys
    (values derived from rows of several batches, e.g. an incident's offense after a reversal).
    Returns counts of the target's rows; ``rows_loaded`` (default: rows staged) is what the audit
    balances against rows read (for offense-row feeds: source rows, not incidents).
    """
    now = datetime.now().replace(microsecond=0)
    with wh.begin() as conn:
        counts = _merge_rows(wh, conn, schema, batch, data_files, now, refresh_columns)
        for child, files in children:
            _merge_rows(wh, conn, child, batch, files, now)
        qtable = metadata.tables[f"quarantine_{schema.name}"]
        qcols = ["row_index", "source_row", "record_id", "expectation", "column_name", "value", "reason", "raw_record"]
        # Re-landing the same batch replaces its quarantine rows instead of duplicating them.
        conn.execute(qtable.delete().where(qtable.c.batch_id == batch.batch_id))
        wh.copy_parquet(conn, qtable.name, qcols, quarantine_files,
                        {"batch_id": batch.batch_id, "source": batch.source, "quarantined_at": now})
        failpoint("load.tx_quarantined")
        if rows_loaded is not None:
            counts["rows_loaded"] = rows_loaded
        _insert_audit(conn, batch, "loaded", counts, rows_quarantined, validation_success, None, now)
        if advance_watermark is not None:
            _set_watermark(conn, batch.source, advance_watermark, batch.batch_id, now)
        failpoint("load.tx_before_commit")
    failpoint("load.committed")
    return {**counts, "rows_quarantined": rows_quarantined}


def _merge_rows(wh: Warehouse, conn, schema: EntitySchema, batch: BatchInfo, files: Sequence[Path], now: datetime,
                refresh_columns: Sequence[str] = ()) -> dict[str, int]:
    """Merge staged Parquet rows into ``schema.table`` by key (inside the caller's transaction).

    Every join builds its hash table on the staged batch, never on the table: memory is bounded
    by the batch however large the table grows.
    """
    target = metadata.tables[schema.table]
    cols, key = schema.column_names, list(schema.key)
    stg = wh.create_temp_like(conn, target.name, cols)
    wh.copy_parquet(conn, stg, cols, files)
    failpoint("load.tx_staged")
    join = " AND ".join(f"t.{_q(k)} = s.{_q(k)}" for k in key)
    v = schema.version_column
    newer = (f"(s.{_q(v)} > t.{_q(v)} OR (t.{_q(v)} IS NULL AND s.{_q(v)} IS NOT NULL))" if v else "TRUE")
    # The staged keys already stored, and whether each staged row is newer: one join, staged side built.
    seen = wh.create_temp_as(conn, f"SELECT {', '.join('s.' + _q(k) for k in key)}, "
                                   f"CASE WHEN {newer} THEN 1 ELSE 0 END AS is_newer "
                                   f"FROM {_q(stg)} s JOIN {_q(target.name)} t ON {join}")
    staged = conn.execute(text(f"SELECT count(*) FROM {_q(stg)}")).scalar_one()
    n_existing, n_newer = (int(x or 0) for x in conn.execute(
        text(f"SELECT count(*), sum(is_newer) FROM {_q(seen)}")).one())
    on_seen = " AND ".join(f"t.{_q(k)} = n.{_q(k)}" for k in key)
    if n_newer:
        conn.execute(text(f"DELETE FROM {_q(target.name)} t WHERE EXISTS "
                          f"(SELECT 1 FROM {_q(seen)} n WHERE n.is_newer = 1 AND {on_seen})"))
    failpoint("load.tx_deleted")
    col_list = ", ".join(_q(c) for c in cols)
    lineage = ("" if "source" in cols else ", source") + ", batch_id, loaded_at"
    values = ("" if "source" in cols else ", :source") + ", :batch_id, :now"
    keep = " AND ".join(f"n.{_q(k)} = s.{_q(k)}" for k in key)
    conn.execute(text(
        f"INSERT INTO {_q(target.name)} ({col_list}{lineage}) "
        f"SELECT {', '.join('s.' + _q(c) for c in cols)}{values} FROM {_q(stg)} s "
        f"WHERE NOT EXISTS (SELECT 1 FROM {_q(seen)} n WHERE n.is_newer = 0 AND {keep})"),
        {"source": batch.source, "batch_id": batch.batch_id, "now": now})
    failpoint("load.tx_inserted")
    if refresh_columns:
        sets = ", ".join(f"{_q(c)} = s.{_q(c)}" for c in refresh_columns)
        conn.execute(text(f"UPDATE {_q(target.name)} t SET {sets} FROM {_q(stg)} s WHERE {join}"))
    wh.drop_temp(conn, seen)
    wh.drop_temp(conn, stg)
    return {"rows_inserted": int(staged) - n_existing, "rows_updated": n_newer,
            "rows_unchanged": n_existing - n_newer, "rows_loaded": int(staged)}


def read_rows(wh: Warehouse, schema: EntitySchema, column: str, values: Sequence) -> pd.DataFrame:
    """Return the stored rows of ``schema.table`` whose ``column`` is one of ``values`` (schema columns)."""
    table = metadata.tables[schema.table]
    values = sorted({str(v) for v in values})
    frames = []
    with wh.connect() as conn:
        for i in range(0, len(values), 5000):
            rows = conn.execute(select(*[table.c[c] for c in schema.column_names])
                                .where(table.c[column].in_(values[i:i + 5000]))).all()
            frames.append(pd.DataFrame(rows, columns=schema.column_names))
    out = pd.concat(frames, ignore_index=True) if frames else schema.empty_frame()
    return schema.coerce(out) if len(out) else schema.empty_frame()


def _insert_audit(conn, batch: BatchInfo, status: str, counts: dict, rows_quarantined: int,
                  validation_success: bool | None, message: str | None, now: datetime) -> None:
    conn.execute(load_audit.insert().values(
        audit_id=str(uuid.uuid4()), batch_id=batch.batch_id, flow_run_id=batch.flow_run_id, source=batch.source,
        entity=batch.entity, source_path=batch.source_path, sha256=batch.sha256, watermark=batch.watermark,
        status=status, rows_read=batch.rows_read, rows_loaded=counts.get("rows_loaded", 0),
        rows_quarantined=rows_quarantined, rows_inserted=counts.get("rows_inserted"),
        rows_updated=counts.get("rows_updated"), rows_unchanged=counts.get("rows_unchanged"),
        validation_success=validation_success, message=(message or None) and message[:2000],
        started_at=batch.started_at or now, finished_at=now,
    ))


def record_audit(wh: Warehouse, batch: BatchInfo, status: str, message: str | None = None,
                 validation_success: bool | None = None) -> None:
    """Write an audit row for a batch that failed or was skipped (loads nothing)."""
    with wh.begin() as conn:
        _insert_audit(conn, batch, status, {"rows_loaded": 0}, 0, validation_success, message,
                      datetime.now().replace(microsecond=0))


def _set_watermark(conn, source: str, watermark: str, batch_id: str, now: datetime) -> None:
    conn.execute(source_watermarks.delete().where(source_watermarks.c.source == source))
    conn.execute(source_watermarks.insert().values(source=source, watermark=watermark, batch_id=batch_id,
                                                   updated_at=now))


def set_watermark(wh: Warehouse, source: str, watermark: str, batch_id: str | None) -> None:
    """Record the high-water mark of a fully loaded extraction."""
    with wh.begin() as conn:
        _set_watermark(conn, source, watermark, batch_id or "", datetime.now().replace(microsecond=0))


def get_watermark(wh: Warehouse, source: str) -> str | None:
    with wh.connect() as conn:
        return conn.execute(select(source_watermarks.c.watermark).where(source_watermarks.c.source == source)).scalar()


def loaded_checksums(wh: Warehouse, source: str, entity: str | None = None) -> set[str]:
    """Return sha256 checksums of batches of ``source`` (and ``entity``) that loaded successfully."""
    cond = (load_audit.c.source == source) & (load_audit.c.status == "loaded")
    if entity:
        cond = cond & (load_audit.c.entity == entity)
    with wh.connect() as conn:
        rows = conn.execute(select(load_audit.c.sha256).where(cond)).scalars()
        return {r for r in rows if r}


def replace_table(wh: Warehouse, table: Table, frame: pd.DataFrame) -> int:
    """Replace a small dimension table's contents in one transaction; returns rows written."""
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    with wh.begin() as conn:
        conn.execute(table.delete())
        if records:
            conn.execute(table.insert(), records)
    return len(records)


def table_count(wh: Warehouse, table: str) -> int:
    with wh.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(metadata.tables[table])).scalar_one())

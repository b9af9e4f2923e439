"""Prefect tasks every feed shares: land a file raw, process a chunk, merge a batch.

Thin wrappers (names, tags, retries on IO) around the plain functions in ``tasks.ingest.landing``,
``tasks.ingest.batch_path`` and ``warehouse.load``.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks.ingest.batch_path import ChunkResult, FeedSpec, finish_batch, process_chunk
from schemas.errors import PulseError
from tasks.ingest.landing import LandedBatch, file_sha256, find_landed, land_batches
from warehouse.engine import make_engine
from warehouse.load import BatchInfo, clear_stage, loaded_checksums, record_audit


@dataclass(frozen=True)
class FeedContext:
    """Plain values a feed's tasks need, built once per flow run from Settings."""

    source: str
    warehouse_url: str
    raw_dir: Path
    stage_dir: Path
    chunk_rows: int


def retry_unless_user_error(task, task_run, state) -> bool:
    """Prefect ``retry_condition_fn``: retry IO failures, never a bad input file (retrying cannot fix it)."""
    try:
        exc = state.result(raise_on_failure=False)
    except Exception:  # noqa: BLE001 - an unreadable state is retried like any IO failure
        return True
    return not isinstance(exc, PulseError)


@task(name="land-file", tags=["landing"], retries=2, retry_delay_seconds=2, cache_policy=NO_CACHE,
      retry_condition_fn=retry_unless_user_error, task_run_name="land {path.name}")
def land_file(ctx: FeedContext, path: Path, reader: Callable[[Path], Iterator[pa.RecordBatch]]) -> LandedBatch:
    """Land one source file raw (or return the batch already landed with the same checksum)."""
    sha = file_sha256(path)
    return find_landed(ctx.raw_dir, ctx.source, sha) or land_batches(ctx.raw_dir, ctx.source, str(path), sha,
                                                                    reader(path))


@task(name="process-chunk", tags=["transform"], cache_policy=NO_CACHE,
      task_run_name="standardize-validate-geocode {batch.batch_id} @{offset}")
def process_chunk_task(spec: FeedSpec, batch: LandedBatch, raw: pd.DataFrame, offset: int,
                       stage_dir: Path) -> ChunkResult:
    return process_chunk(raw, offset, spec, stage_dir / spec.schema.name / batch.batch_id, where=batch.origin)


@task(name="merge-batch", tags=["load"], cache_policy=NO_CACHE,
      task_run_name="load {spec.schema.table} from {batch.batch_id}")
def merge_task(ctx: FeedContext, spec: FeedSpec, batch: LandedBatch, chunks: list[ChunkResult],
               flow_run_id: str | None, started_at: datetime) -> dict:
    """Merge a batch's staged chunks in one transaction (audit row 'failed' if it cannot)."""
    engine = make_engine(ctx.warehouse_url)
    info = BatchInfo(batch_id=batch.batch_id, source=batch.source, entity=spec.schema.name, rows_read=batch.rows,
                     sha256=batch.sha256, source_path=batch.origin, watermark=batch.watermark,
                     flow_run_id=flow_run_id, started_at=started_at)
    try:
        return finish_batch(engine, spec, info, chunks)
    except PulseError as exc:
        record_audit(engine, info, "failed", str(exc), validation_success=False)
        raise
    finally:
        clear_stage(ctx.stage_dir / spec.schema.name / batch.batch_id)
        engine.dispose()


def already_loaded(ctx: FeedContext, batch: LandedBatch, entity: str | None = None) -> bool:
    """True when a batch with this checksum already loaded for this source (and entity)."""
    engine = make_engine(ctx.warehouse_url)
    try:
        return batch.sha256 in loaded_checksums(engine, ctx.source, entity)
    finally:
        engine.dispose()

"""Prefect tasks every feed shares, one per stage of a batch: land, standardize, validate, geocode, load.

Thin wrappers (names, tags, retries on IO) around the plain functions in ``tasks.ingest.landing``,
``tasks.ingest.stages`` and ``warehouse.load``. Task run names carry the batch, so a batch's path
reads in order in the Prefect UI.
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

from schemas.errors import PulseError
from tasks.ingest.feed_spec import FeedSpec
from tasks.ingest.landing import LandedBatch, file_sha256, find_landed, land_batches
from tasks.ingest.stages import (Checked, Placed, Staged, batch_info, collapse_batch, geocode_batch, load_placed,
                                 standardize_batch, validate_staged)
from warehouse.load import clear_stage, init_warehouse, loaded_checksums, record_audit, replace_table
from warehouse.resource import Warehouse
from warehouse.tables import dim_neighborhoods


@dataclass(frozen=True)
class FeedContext:
    """Plain values a feed's tasks need, built once per flow run from Settings."""

    source: str
    warehouse_url: str
    raw_dir: Path
    stage_dir: Path
    chunk_rows: int
    load_slot_wait_s: float  # how long a batch waits for its source's load slot


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


@task(name="prepare-warehouse", tags=["warehouse"], cache_policy=NO_CACHE, retries=2, retry_delay_seconds=2,
      retry_condition_fn=retry_unless_user_error)
def prepare_warehouse(wh: Warehouse, neighborhoods: pd.DataFrame | None = None) -> None:
    """Create the tables that do not exist yet; refresh dim_neighborhoods so loaded ids resolve."""
    init_warehouse(wh)
    if neighborhoods is not None:
        replace_table(wh, dim_neighborhoods, neighborhoods)


def stage_folder(ctx: FeedContext, spec: FeedSpec, batch: LandedBatch) -> Path:
    return ctx.stage_dir / spec.schema.name / batch.batch_id


@task(name="standardize", tags=["transform"], cache_policy=NO_CACHE, task_run_name="standardize {batch.batch_id}")
def standardize_task(ctx: FeedContext, spec: FeedSpec, batch: LandedBatch) -> Staged:
    return standardize_batch(spec, batch, stage_folder(ctx, spec, batch), ctx.chunk_rows)


@task(name="validate", tags=["validate"], cache_policy=NO_CACHE, task_run_name="validate {staged.batch.batch_id}")
def validate_task(spec: FeedSpec, staged: Staged) -> Checked:
    return validate_staged(spec, staged)


@task(name="geocode", tags=["geocode"], cache_policy=NO_CACHE, task_run_name="geocode {staged.batch.batch_id}")
def geocode_task(spec: FeedSpec, staged: Staged, checked: Checked) -> Placed:
    return geocode_batch(spec, staged, checked)


@task(name="collapse", tags=["transform"], cache_policy=NO_CACHE,
      task_run_name="offense rows to incidents {placed.batch.batch_id}")
def collapse_task(wh: Warehouse, spec: FeedSpec, placed: Placed) -> Placed:
    return collapse_batch(wh, spec, placed)


@task(name="load", tags=["load"], cache_policy=NO_CACHE,
      task_run_name="load {spec.schema.table} from {placed.batch.batch_id}")
def load_task(wh: Warehouse, spec: FeedSpec, placed: Placed, flow_run_id: str | None, started_at: datetime,
              advance_watermark: str | None = None) -> dict:
    """Merge a placed batch in one transaction; its staged files are removed either way."""
    try:
        return load_placed(wh, spec, placed, batch_info(spec, placed.batch, flow_run_id, started_at),
                           advance_watermark)
    finally:
        clear_stage(placed.folder)


def audit_failure(wh: Warehouse, spec: FeedSpec, batch: LandedBatch, flow_run_id: str | None, started_at: datetime,
                  exc: BaseException) -> None:
    """Write a 'failed' audit row for a batch, on a fresh connection (the failing one may be gone)."""
    message = str(exc) if isinstance(exc, PulseError) else f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    wh.close()  # drop pooled connections: a lost server connection must not be reused
    record_audit(wh, batch_info(spec, batch, flow_run_id, started_at), "failed", message, validation_success=False)


def already_loaded(wh: Warehouse, source: str, batch: LandedBatch, entity: str | None = None) -> bool:
    """True when a batch with this checksum already loaded for this source (and entity)."""
    return batch.sha256 in loaded_checksums(wh, source, entity)

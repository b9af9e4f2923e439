"""Prefect tasks of the police-incidents flow: extraction plans, landing, chunk processing, merge.

These are IO edges around the pure adapter/validate/geocode functions; the flow only wires them.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
from prefect import task
from prefect.cache_policies import NO_CACHE

from schemas.incidents import INCIDENTS
from tasks.batch import ChunkResult, FeedSpec, finish_batch, process_chunk
from tasks.errors import PulseError
from tasks.geocode import assign_neighborhoods
from tasks.landing import LandedBatch, file_sha256, find_landed, iter_landed, land_batches
from tasks.sources import police_chicago, socrata
from warehouse.engine import make_engine
from warehouse.load import BatchInfo, clear_stage, loaded_checksums, record_audit

REPO = Path(__file__).resolve().parent.parent
SUITE = REPO / "expectations" / "police_incidents.json"


@dataclass(frozen=True)
class PoliceContext:
    """Plain values the police tasks need, built once per flow run from Settings."""

    source: str
    warehouse_url: str
    raw_dir: Path
    stage_dir: Path
    chunk_rows: int
    projected_crs: str
    xy_crs: str
    snap_tolerance_m: float
    suite_parameters: dict[str, Any]


def suite_parameters(city: dict, iucr_lookup: pd.DataFrame, earliest: str) -> dict[str, Any]:
    """Return run-time values for the police suite's ``$PARAMETER``s."""
    lon_min, lat_min, lon_max, lat_max = city["city"]["bbox"]
    codes = police_chicago.iucr_value_set(iucr_lookup)
    return {
        "earliest_date": pd.Timestamp(earliest), "now": pd.Timestamp.now(tz=city["city"]["timezone"]).tz_localize(None),
        "lat_min": lat_min, "lat_max": lat_max, "lon_min": lon_min, "lon_max": lon_max,
        "known_offense_codes": sorted(set(codes) | {c.zfill(4) for c in codes}),
    }


def feed_spec(ctx: PoliceContext, neighborhoods) -> FeedSpec:
    def geocode(frame: pd.DataFrame) -> pd.DataFrame:
        return assign_neighborhoods(frame, neighborhoods, projected_crs=ctx.projected_crs, xy_crs=ctx.xy_crs,
                                    snap_tolerance_m=ctx.snap_tolerance_m)

    return FeedSpec(source=ctx.source, schema=INCIDENTS, suite_path=SUITE, to_standard=police_chicago.to_standard,
                    geocode=geocode, suite_parameters=ctx.suite_parameters)


@task(name="land-file", tags=["landing"], retries=2, retry_delay_seconds=2, cache_policy=NO_CACHE,
      task_run_name="land {path.name}")
def land_file(ctx: PoliceContext, path: Path) -> LandedBatch:
    """Land one source file raw (or find it already landed by checksum)."""
    sha = file_sha256(path)
    return find_landed(ctx.raw_dir, ctx.source, sha) or land_batches(
        ctx.raw_dir, ctx.source, str(path), sha, police_chicago.read_raw(path))


def land_api_pages(ctx: PoliceContext, base_url: str, dataset_id: str, page_size: int, since: str | None,
                   app_token: str | None, transport=None, sleep=None, log=None) -> tuple[list[LandedBatch], str | None]:
    """Land every page newer than ``since``; return landed batches and the new watermark.

    The new watermark is only returned when every page arrived and the row count matches
    the source's own count, so it can never pass data that was not landed.
    """
    kwargs = {"transport": transport, "log": log}
    if sleep is not None:
        kwargs["sleep"] = sleep
    expected = socrata.count_rows(base_url, dataset_id, watermark_field=police_chicago.WATERMARK_FIELD, since=since,
                                  app_token=app_token, transport=transport, **({"sleep": sleep} if sleep else {}))
    landed, got, newest = [], 0, since
    for page in socrata.iter_pages(base_url, dataset_id, page_size=page_size,
                                   watermark_field=police_chicago.WATERMARK_FIELD, since=since,
                                   app_token=app_token, **kwargs):
        table = police_chicago.api_records_to_raw(page.records)
        batch = land_batches(ctx.raw_dir, ctx.source, f"{page.url}?$offset={page.offset}", page.body_sha256,
                             table.to_batches(max_chunksize=ctx.chunk_rows), watermark=since)
        landed.append(batch)
        got += len(page.records)
        page_max = max((r.get(police_chicago.WATERMARK_FIELD) or "" for r in page.records), default="")
        newest = max(newest or "", page_max) or newest
    if got < expected:
        raise PulseError(f"{base_url} {dataset_id}", f"source returned {got} of {expected} rows newer than {since}",
                         "Pages went missing (an empty page mid-stream?); the watermark was not advanced: rerun")
    return landed, newest


@task(name="process-chunk", tags=["transform"], cache_policy=NO_CACHE,
      task_run_name="standardize-validate-geocode {batch.batch_id} @{offset}")
def process_chunk_task(spec: FeedSpec, batch: LandedBatch, raw: pd.DataFrame, offset: int,
                       stage_dir: Path) -> ChunkResult:
    return process_chunk(raw, offset, spec, stage_dir / batch.batch_id, where=batch.origin)


@task(name="merge-batch", tags=["load"], cache_policy=NO_CACHE, task_run_name="load {batch.batch_id}")
def merge_task(ctx: PoliceContext, spec: FeedSpec, batch: LandedBatch, chunks: list[ChunkResult],
               flow_run_id: str | None, started_at: datetime, watermark: str | None = None) -> dict:
    engine = make_engine(ctx.warehouse_url)
    info = BatchInfo(batch_id=batch.batch_id, source=batch.source, entity=INCIDENTS.name, rows_read=batch.rows,
                     sha256=batch.sha256, source_path=batch.origin, watermark=watermark or batch.watermark,
                     flow_run_id=flow_run_id, started_at=started_at)
    try:
        return finish_batch(engine, spec, info, chunks, advance_watermark=watermark)
    except PulseError as exc:
        record_audit(engine, info, "failed", str(exc), validation_success=False)
        raise
    finally:
        clear_stage(ctx.stage_dir / batch.batch_id)
        engine.dispose()


def already_loaded(ctx: PoliceContext, batch: LandedBatch) -> bool:
    engine = make_engine(ctx.warehouse_url)
    try:
        return batch.sha256 in loaded_checksums(engine, ctx.source)
    finally:
        engine.dispose()


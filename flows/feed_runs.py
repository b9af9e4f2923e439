"""Wiring shared by every feed's flow: load landed batches through the batch path."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

from prefect import get_run_logger, tags
from prefect.concurrency.sync import concurrency
from prefect.context import FlowRunContext
from prefect.runtime import flow_run
from prefect.task_runners import ThreadPoolTaskRunner

from tasks.ingest.batch_path import ChunkResult, FeedSpec
from schemas.errors import PulseError
from tasks.ingest.prefect_tasks import FeedContext, already_loaded, merge_task, process_chunk_task
from tasks.ingest.landing import LandedBatch, iter_landed

# Chunks submitted to a distributed task runner but not finished yet; bounds the raw frames in flight.
MAX_CHUNKS_IN_FLIGHT = 4


def load_batches(ctx: FeedContext, spec: FeedSpec, batches: list[LandedBatch],
                 force: bool = False) -> tuple[list[dict], list[str]]:
    """Process and merge each landed batch; return per-batch summaries and failure messages.

    A batch already loaded (same checksum) is skipped unless ``force`` (backfills re-merge it;
    the merge by key and version makes that idempotent); a failing batch is reported and the
    others still load. Under a task runner other than the default thread pool (e.g. a
    ``DaskTaskRunner``) the chunks run on its workers; the merge always runs here, holding the
    ``load-<source>`` global concurrency slot so two runs of one source never merge at once.
    """
    log = get_run_logger()
    summaries, failures = [], []
    for batch in batches:
        name = Path(batch.origin).name
        if not force and already_loaded(ctx, batch, spec.schema.name):
            log.info("%s: already loaded into %s (sha256 %s…), skipped", name, spec.schema.table,
                     batch.sha256[:12])
            summaries.append({"batch_id": batch.batch_id, "origin": batch.origin, "table": spec.schema.table, "entity": spec.schema.name,
                              "status": "skipped", "rows_read": batch.rows})
            continue
        started = datetime.now()
        with tags(ctx.source):
            chunks = process_chunks(ctx, spec, batch, name)
            try:
                with concurrency(load_limit(ctx.source), occupy=1):
                    summary = merge_task(ctx, spec, batch, chunks, flow_run.get_id(), started)
            except PulseError as exc:
                log.error("%s", exc)
                failures.append(str(exc))
                summaries.append({"batch_id": batch.batch_id, "origin": batch.origin, "table": spec.schema.table, "entity": spec.schema.name,
                                  "status": "failed", "rows_read": batch.rows, "message": str(exc)})
                continue
        log.info("%s: %d read, %d loaded into %s (%d new, %d updated), %d quarantined", name, summary["rows_read"],
                 summary["rows_loaded"], spec.schema.table, summary["rows_inserted"], summary["rows_updated"],
                 summary["rows_quarantined"])
        summaries.append({**summary, "table": spec.schema.table, "entity": spec.schema.name})
    return summaries, failures


def process_chunks(ctx: FeedContext, spec: FeedSpec, batch: LandedBatch, name: str) -> list[ChunkResult]:
    """Return one ChunkResult per chunk of the batch, in order; inline, or on a distributed runner's workers."""
    log = get_run_logger()
    run = FlowRunContext.get()
    distributed = run is not None and not isinstance(run.task_runner, ThreadPoolTaskRunner)
    results, futures = [], []
    for offset, raw in iter_landed(batch, ctx.chunk_rows):
        log.info("%s: %s rows %d-%d of %d", name, spec.schema.table, offset + 1, offset + len(raw), batch.rows)
        if not distributed:
            results.append(process_chunk_task(spec, batch, raw, offset, ctx.stage_dir))
            continue
        if len(futures) >= MAX_CHUNKS_IN_FLIGHT:
            futures[-MAX_CHUNKS_IN_FLIGHT].wait()  # keep memory bounded: read on only as chunks finish
        futures.append(process_chunk_task.submit(spec, batch, raw, offset, ctx.stage_dir))
        del raw
    return results if not distributed else [f.result() for f in futures]


def load_limit(source: str) -> str:
    """Return the name of the source's global concurrency limit, creating it (1 slot) when missing.

    An operator may pre-create, resize or deactivate it (``prefect gcl create load-<source> --limit 1``);
    it is only created here when absent, so a run never silently loads without the guard.
    """
    from prefect import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

    name = f"load-{source}"
    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            try:
                client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=1))
            except ObjectAlreadyExists:
                pass  # another run created it first
    return name


def raise_if_failed(source: str, failures: list[str]) -> None:
    if failures:
        raise PulseError(source, f"{len(failures)} batch(es) failed; first: {failures[0]}",
                         "Fix the input named above and rerun; batches that loaded are kept")

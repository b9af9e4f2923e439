"""Wiring shared by every feed's flow: load landed batches through the batch path."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

from prefect import get_run_logger
from prefect.runtime import flow_run

from tasks.batch import FeedSpec
from tasks.errors import PulseError
from tasks.ingest_steps import FeedContext, already_loaded, merge_task, process_chunk_task
from tasks.landing import LandedBatch, iter_landed


def load_batches(ctx: FeedContext, spec: FeedSpec, batches: list[LandedBatch]) -> tuple[list[dict], list[str]]:
    """Process and merge each landed batch; return per-batch summaries and failure messages.

    A batch already loaded (same checksum) is skipped; a failing batch is reported and the
    others still load.
    """
    log = get_run_logger()
    summaries, failures = [], []
    for batch in batches:
        name = Path(batch.origin).name
        if already_loaded(ctx, batch, spec.schema.name):
            log.info("%s: already loaded into %s (sha256 %s…), skipped", name, spec.schema.table, batch.sha256[:12])
            summaries.append({"batch_id": batch.batch_id, "origin": batch.origin, "table": spec.schema.table,
                              "status": "skipped", "rows_read": batch.rows})
            continue
        started = datetime.now()
        chunks = []
        for offset, raw in iter_landed(batch, ctx.chunk_rows):
            log.info("%s: %s rows %d-%d of %d", name, spec.schema.table, offset + 1, offset + len(raw), batch.rows)
            chunks.append(process_chunk_task(spec, batch, raw, offset, ctx.stage_dir))
            del raw
        try:
            summary = merge_task(ctx, spec, batch, chunks, flow_run.get_id(), started)
        except PulseError as exc:
            log.error("%s", exc)
            failures.append(str(exc))
            summaries.append({"batch_id": batch.batch_id, "origin": batch.origin, "table": spec.schema.table,
                              "status": "failed", "rows_read": batch.rows, "message": str(exc)})
            continue
        log.info("%s: %d read, %d loaded into %s (%d new, %d updated), %d quarantined", name, summary["rows_read"],
                 summary["rows_loaded"], spec.schema.table, summary["rows_inserted"], summary["rows_updated"],
                 summary["rows_quarantined"])
        summaries.append({**summary, "table": spec.schema.table})
    return summaries, failures


def raise_if_failed(source: str, failures: list[str]) -> None:
    if failures:
        raise PulseError(source, f"{len(failures)} batch(es) failed; first: {failures[0]}",
                         "Fix the input named above and rerun; batches that loaded are kept")

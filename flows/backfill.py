"""Backfill: reprocess a date range of one incident source from the raw landing zone.

Decision: the unit of reprocessing is the landed batch, not a month slice of it. The months of
each landed batch are read from its data (``occurred_at`` after standardizing), and every batch
holding at least one row in the requested months is re-run through the normal batch path
(standardize, validate, geocode, merge) under its ORIGINAL batch id. Why whole batches:
``merge_batch`` replaces a batch's quarantine rows by batch id and merges data rows by key and
version, so re-merging a batch is exactly idempotent (data rows unchanged, quarantine rows
replaced, one more audit row), whereas month slices under new batch ids would duplicate the
quarantine rows and split a batch's audit trail. The cost: rows of those batches outside the
range are re-merged too (a no-op for rows already stored). Chicago lands one batch per year file
or per API page, so a month range touches a few batches.

What a backfill does: restores rows missing from the warehouse (a new or rebuilt warehouse, a
deleted month), re-validates history against the current suite (quarantine rows are rewritten),
and loads rows that failed before and pass now. It never overwrites a stored row with the same
or a newer version: that is the merge rule every load follows.
"""
from __future__ import annotations

import json
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from flows.feed_runs import load_batches, raise_if_failed
from flows.city_inputs import city_neighborhoods, neighborhood_rows, police_context
from flows.artifacts import publish_batch_artifacts
from flows.settings import Settings
from schemas.errors import InputError
from tasks.ingest.backfill_plan import add_month_counts, month_range, plan
from tasks.ingest.landing import LandedBatch, iter_landed
from tasks.ingest.police_feed import feed_spec
from tasks.ingest.prefect_tasks import prepare_warehouse
from warehouse.resource import Warehouse

def landed_batches(raw_dir: Path, source: str) -> list[LandedBatch]:
    """Return every batch landed for ``source`` (manifest and Parquet present), oldest extraction first."""
    batches = []
    for manifest in sorted((raw_dir / source).glob("*/*.manifest.json")):
        data = json.loads(manifest.read_text())
        if Path(data.get("parquet_path", "")).exists():
            batches.append(LandedBatch(**data))
    return sorted(batches, key=lambda b: (b.extracted_at, b.batch_id))


@task(name="scan-months", tags=["backfill"], cache_policy=NO_CACHE, task_run_name="months in {batch.batch_id}")
def scan_months(batch: LandedBatch, to_standard, chunk_rows: int) -> dict[str, int]:
    """Return rows per ``occurred_at`` month (``YYYY-MM``) of a landed batch, plus ``unparsed``."""
    counts: dict[str, int] = {}
    for _, raw in iter_landed(batch, chunk_rows):
        add_month_counts(counts, to_standard(raw)["occurred_at"])
    return counts


@flow(name="backfill", flow_run_name="backfill {source} {date_from}..{date_to}")
def backfill_flow(date_from: str, date_to: str, source: str = "police_chicago",
                  settings: Settings | None = None) -> dict:
    """Re-merge the landed batches of ``source`` that hold incidents between two dates.

    Returns: source, months, batches (summaries as from a load, status loaded/failed),
    rows_in_range (landed rows whose occurred_at falls in the months), months_without_data.
    """
    settings = settings or Settings()
    log = get_run_logger()
    months = month_range(date_from, date_to)
    ctx = police_context(settings, source)  # raises a ConfigError naming the sources it knows
    landed = landed_batches(settings.raw_dir, source)
    if not landed:
        raise InputError(settings.raw_dir / source, "holds no landed batches",
                         f"Land the source first (pulse ingest police --source {source}); backfills start from there")
    coverage = {b.batch_id: scan_months(b, ctx.adapter.to_standard, ctx.chunk_rows) for b in landed}
    selected_ids, per_month = plan(coverage, months)
    empty = [m["month"] for m in per_month if m["rows"] == 0]
    if empty:
        log.warning("%s: no landed rows for %d month(s): %s", source, len(empty), ", ".join(empty))
    selected = [b for b in landed if b.batch_id in selected_ids]
    log.info("%s %s..%s: %d of %d landed batch(es) hold rows in range: %s", source, months[0], months[-1],
             len(selected), len(landed), ", ".join(Path(b.origin).name for b in selected) or "none")

    with Warehouse(ctx.warehouse_url) as wh:
        prepare_warehouse(wh, neighborhood_rows(settings))  # a backfill may target a new, empty warehouse
        summaries, failures = load_batches(wh, ctx, feed_spec(ctx, city_neighborhoods(settings)), selected,
                                           force=True)
    create_table_artifact(key=f"backfill-{source}".replace("_", "-"), table=per_month,
                          description=f"Backfill of {source} {months[0]}..{months[-1]}: landed rows per month")
    if summaries:
        publish_batch_artifacts(source, summaries, settings)
    raise_if_failed(source, failures)
    return {"source": source, "months": months, "batches": summaries,
            "rows_in_range": sum(m["rows"] for m in per_month), "months_without_data": empty}

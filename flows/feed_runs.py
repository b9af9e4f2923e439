"""Wiring shared by every feed's flow: each landed batch through its stage tasks, in order.

extract -> land (per file or page) -> standardize -> validate -> geocode -> load (per batch).
"""
from __future__ import annotations

from collections import deque
from functools import cache
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from prefect import get_run_logger, tags
from prefect.concurrency.sync import concurrency
from prefect.context import FlowRunContext
from prefect.runtime import flow_run
from prefect.task_runners import ThreadPoolTaskRunner

from schemas.errors import PulseError
from tasks.ingest.feed_spec import FeedSpec
from tasks.ingest.landing import LandedBatch
from tasks.ingest.prefect_tasks import (FeedContext, already_loaded, audit_failure, collapse_task, geocode_task,
                                        load_task, standardize_task, validate_task)
from warehouse.load import clear_stage
from warehouse.resource import Warehouse

# Batches whose stages run ahead on a distributed task runner while earlier ones load.
MAX_BATCHES_IN_FLIGHT = 2
# Lease of the load slot, renewed by Prefect while the merge runs.
LOAD_LEASE_SECONDS = 60  # the server accepts no shorter lease


def load_batches(wh: Warehouse, ctx: FeedContext, spec: FeedSpec, batches: list[LandedBatch],
                 force: bool = False) -> tuple[list[dict], list[str]]:
    """Take each landed batch through its stages and merge it; return per-batch summaries and failure messages.

    A batch already loaded (same checksum) is skipped unless ``force`` (backfills re-merge it;
    the merge by key and version makes that idempotent). A batch that fails is audited as
    'failed' and reported, and the others still load; a failure that is not a user error (a
    lost connection, a bug) is audited too and then raised. Under a distributed task runner
    (e.g. ``DaskTaskRunner``) the stages of the next batches run on its workers while one loads;
    the merge always runs here, holding the ``load-<source>`` global concurrency slot so two runs
    of one source never merge at once.
    """
    log = get_run_logger()
    summaries, failures = [], []
    todo = [b for b in batches if force or not already_loaded(wh, ctx.source, b, spec.schema.name)]
    placed_in_order = _placed(wh, ctx, spec, todo)  # lazy, in the order of ``todo``
    for batch in batches:
        if batch not in todo:
            log.info("%s: already loaded into %s (sha256 %s…), skipped", Path(batch.origin).name,
                     spec.schema.table, batch.sha256[:12])
            summaries.append(_summary(spec, batch, "skipped"))
            continue
        started = datetime.now()
        try:
            with tags(ctx.source):
                placed = next(placed_in_order)
                placed = placed() if callable(placed) else placed.result()
                with load_slot(ctx.source, ctx.load_slot_wait_s):
                    summary = load_task(wh, spec, placed, flow_run.get_id(), started)
        except BaseException as exc:
            clear_stage(ctx.stage_dir / spec.schema.name / batch.batch_id)
            audit_failure(wh, spec, batch, flow_run.get_id(), started, exc)
            if not isinstance(exc, PulseError):
                raise
            log.error("%s", exc)
            failures.append(str(exc))
            summaries.append({**_summary(spec, batch, "failed"), "message": str(exc)})
            continue
        log.info("%s: %d read, %d loaded into %s (%d new, %d updated), %d quarantined", Path(batch.origin).name,
                 summary["rows_read"], summary["rows_loaded"], spec.schema.table, summary["rows_inserted"],
                 summary["rows_updated"], summary["rows_quarantined"])
        summaries.append({**summary, "table": spec.schema.table, "entity": spec.schema.name})
    return summaries, failures


def _placed(wh: Warehouse, ctx: FeedContext, spec: FeedSpec, batches: list[LandedBatch]):
    """Yield, per batch in order, its staged-for-load result: a callable running the stages here, or a
    future of them on a distributed runner (at most MAX_BATCHES_IN_FLIGHT ahead)."""
    run = FlowRunContext.get()
    distributed = run is not None and not isinstance(run.task_runner, ThreadPoolTaskRunner)
    if not distributed:
        for batch in batches:
            yield lambda b=batch: _stages(wh, ctx, spec, b)
        return
    pending: deque = deque()
    for batch in batches:
        staged = standardize_task.submit(ctx, spec, batch)
        checked = validate_task.submit(spec, staged)
        placed = geocode_task.submit(spec, staged, checked)
        pending.append(collapse_task.submit(wh, spec, placed) if spec.collapse else placed)
        if len(pending) >= MAX_BATCHES_IN_FLIGHT:
            yield pending.popleft()
    while pending:
        yield pending.popleft()


def _stages(wh: Warehouse, ctx: FeedContext, spec: FeedSpec, batch: LandedBatch):
    staged = standardize_task(ctx, spec, batch)
    checked = validate_task(spec, staged)
    placed = geocode_task(spec, staged, checked)
    return collapse_task(wh, spec, placed) if spec.collapse else placed


def _summary(spec: FeedSpec, batch: LandedBatch, status: str) -> dict:
    return {"batch_id": batch.batch_id, "origin": batch.origin, "table": spec.schema.table,
            "entity": spec.schema.name, "status": status, "rows_read": batch.rows}


@contextmanager
def load_slot(source: str, wait_seconds: float):
    """Hold the source's ``load-<source>`` slot while a batch merges (a short lease, renewed meanwhile).

    A run killed while it holds the slot cannot renew its lease, so the server frees the slot
    within LOAD_LEASE_SECONDS plus its repossessor loop (~15 s), not Prefect's default 300 s. A
    slot still busy after ``wait_seconds`` is one line naming the slot and how to free it.
    """
    name = load_limit(source)
    try:
        with concurrency(name, occupy=1, lease_duration=LOAD_LEASE_SECONDS, timeout_seconds=wait_seconds):
            yield
    except TimeoutError:
        raise PulseError(f"concurrency slot {name}", f"still taken after {wait_seconds:.0f} s: another run is "
                         f"loading {source} (a run killed while loading frees it within {LOAD_LEASE_SECONDS + 15} s)",
                         f"Wait for that run, or free the slot: prefect gcl update {name} --active-slots 0") from None


def load_limit(source: str) -> str:
    """Return the name of the source's global concurrency limit, creating it (1 slot) when missing.

    An operator may pre-create, resize or deactivate it (``prefect gcl create load-<source> --limit 1``);
    it is only created here when absent, so a run never silently loads without the guard. Checked once
    per source, server and process (not per batch).
    """
    from prefect.settings import PREFECT_API_URL

    return _ensure_limit(f"load-{source}", PREFECT_API_URL.value())


@cache
def _ensure_limit(name: str, api_url: str | None) -> str:
    from prefect import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

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

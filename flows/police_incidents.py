"""Police incidents: extract -> land raw -> standardize -> validate -> geocode -> load."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from flows.context import city_neighborhoods, city_population, police_context, police_files
from flows.reporting import publish_batch_artifacts
from flows.settings import Settings
from tasks.errors import PulseError
from tasks.landing import iter_landed
from tasks.neighborhoods import neighborhood_dimension
from tasks.police_steps import already_loaded, feed_spec, land_api_pages, land_file, merge_task, process_chunk_task
from warehouse.engine import make_engine, redact
from warehouse.load import get_watermark, init_warehouse, replace_table, set_watermark
from warehouse.metadata import dim_neighborhoods


@flow(name="police-incidents", flow_run_name="police-incidents {source} ({mode})", log_prints=False)
def police_incidents_flow(source: str = "police_chicago", mode: str = "files", since: str | None = None,
                          files: list[str] | None = None, settings: Settings | None = None) -> list[dict]:
    """Load police incidents from files (default) or the Socrata API (``mode='api'``)."""
    settings = settings or Settings()
    log = get_run_logger()
    ctx = police_context(settings, source)
    neighborhoods = city_neighborhoods(settings)
    spec = feed_spec(ctx, neighborhoods)
    engine = make_engine(ctx.warehouse_url)
    init_warehouse(engine)
    replace_table(engine, dim_neighborhoods, neighborhood_dimension(neighborhoods, city_population(settings),
                                                                    ctx.projected_crs))
    log.info("warehouse %s ready", redact(ctx.warehouse_url))

    watermark = None
    if mode == "api":
        cfg = settings.city["sources"][source]
        since = since or get_watermark(engine, source)
        token = settings.socrata_app_token.get_secret_value() if settings.socrata_app_token else None
        batches, watermark = land_api_pages(ctx, cfg["api_base_url"], cfg["dataset_id"], cfg["page_size"], since,
                                            token, log=log.warning)
    else:
        paths = [Path(f) for f in files] if files else police_files(settings, source)
        batches = [land_file(ctx, p) for p in paths]
    engine.dispose()

    summaries, failures = [], []
    for batch in batches:
        if already_loaded(ctx, batch):
            log.info("%s: already loaded (sha256 %s…), skipped", batch.origin, batch.sha256[:12])
            summaries.append({"batch_id": batch.batch_id, "origin": batch.origin, "status": "skipped",
                              "rows_read": batch.rows})
            continue
        started = datetime.now()
        chunks = []
        for offset, raw in iter_landed(batch, ctx.chunk_rows):
            log.info("%s: rows %d-%d of %d", Path(batch.origin).name, offset + 1, offset + len(raw), batch.rows)
            chunks.append(process_chunk_task(spec, batch, raw, offset, ctx.stage_dir))
        try:
            summary = merge_task(ctx, spec, batch, chunks, flow_run.get_id(), started)
        except PulseError as exc:
            log.error("%s", exc)
            failures.append(str(exc))
            summaries.append({"batch_id": batch.batch_id, "origin": batch.origin, "status": "failed",
                              "rows_read": batch.rows, "message": str(exc)})
            continue
        log.info("%s: %d read, %d loaded (%d new, %d updated), %d quarantined", Path(batch.origin).name,
                 summary["rows_read"], summary["rows_loaded"], summary["rows_inserted"], summary["rows_updated"],
                 summary["rows_quarantined"])
        summaries.append(summary)
    if mode == "api" and watermark and not failures:
        # Only after every page of the extraction is loaded: the watermark never passes unloaded data.
        set_watermark(make_engine(ctx.warehouse_url), source, watermark, batches[-1].batch_id if batches else None)
    publish_batch_artifacts(source, summaries, settings)
    if failures:
        raise PulseError(source, f"{len(failures)} batch(es) failed; first: {failures[0]}",
                         "Fix the input named above and rerun; loaded batches are kept")
    return summaries

"""Police incidents: extract -> land raw -> standardize -> validate -> geocode -> load."""
from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger

from flows.feed_runs import load_batches, raise_if_failed
from flows.city_inputs import city_neighborhoods, city_population, police_context, police_files
from flows.artifacts import publish_batch_artifacts
from flows.settings import Settings
from schemas.errors import ConfigError
from tasks.ingest.prefect_tasks import land_file
from tasks.geocode.neighborhoods import neighborhood_dimension
from tasks.ingest.police_feed import feed_spec, land_api_pages
from warehouse.resource import Warehouse, redact
from warehouse.load import get_watermark, init_warehouse, replace_table, set_watermark
from warehouse.tables import dim_neighborhoods


@flow(name="police-incidents", flow_run_name="police-incidents {source}")
def police_incidents_flow(source: str = "police_chicago", mode: str | None = None, since: str | None = None,
                          files: list[str] | None = None, settings: Settings | None = None) -> list[dict]:
    """Load police incidents from files (default) or the Socrata API (``mode='api'``)."""
    settings = settings or Settings()
    mode = mode or settings.police_mode
    if mode not in ("files", "api"):
        raise ConfigError("police mode", f"unknown mode {mode!r}", "Use 'files' or 'api' (PULSE_POLICE_MODE)")
    log = get_run_logger()
    ctx = police_context(settings, source)
    neighborhoods = city_neighborhoods(settings)
    engine = Warehouse(ctx.warehouse_url)
    init_warehouse(engine)
    replace_table(engine, dim_neighborhoods,
                  neighborhood_dimension(neighborhoods, city_population(settings), ctx.projected_crs))
    log.info("warehouse %s ready", redact(ctx.warehouse_url))

    watermark = None
    if mode == "api":
        cfg = settings.city["sources"][source]
        since = since or get_watermark(engine, source)
        token = settings.socrata_app_token.get_secret_value() if settings.socrata_app_token else None
        batches, watermark = land_api_pages(ctx, cfg["api_base_url"], cfg["dataset_id"], cfg["page_size"], since,
                                            token, log=log.warning, timeout=float(cfg.get("timeout_seconds", 60)),
                                            max_attempts=int(cfg.get("max_attempts", 5)),
                                            backoff=float(cfg.get("retry_backoff_seconds", 1.0)))
    else:
        paths = [Path(f) for f in files] if files else police_files(settings, source)
        batches = [land_file(ctx, p, ctx.adapter.read_raw) for p in paths]

    summaries, failures = load_batches(ctx, feed_spec(ctx, neighborhoods), batches)
    if mode == "api" and watermark and not failures:
        # Only after every page of the extraction loaded: the watermark never passes unloaded data.
        set_watermark(engine, source, watermark, batches[-1].batch_id if batches else None)
    engine.close()
    publish_batch_artifacts(source, summaries, settings)
    raise_if_failed(source, failures)
    return summaries

"""Police incidents: extract -> land raw -> standardize -> validate -> geocode -> load."""
from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger

from flows.artifacts import publish_batch_artifacts
from flows.city_inputs import city_neighborhoods, neighborhood_rows, police_context, police_files, source_config
from flows.feed_runs import load_batches, raise_if_failed
from flows.settings import Settings
from schemas.city_config import IncidentSourceConfig
from schemas.errors import ConfigError
from tasks.ingest.police_feed import feed_spec, land_api_pages
from tasks.ingest.prefect_tasks import land_file, prepare_warehouse
from warehouse.load import get_watermark, set_watermark
from warehouse.resource import Warehouse

MODES = ("files", "api")


@flow(name="police-incidents", flow_run_name="police-incidents {source}")
def police_incidents_flow(source: str = "police_chicago", mode: str | None = None, since: str | None = None,
                          files: list[str] | None = None, settings: Settings | None = None) -> list[dict]:
    """Load police incidents from files (default) or the Socrata API (``mode='api'``)."""
    settings = settings or Settings()
    mode = mode or settings.police_mode
    if mode not in MODES:
        raise ConfigError("police mode", f"unknown mode {mode!r}", "Use 'files' or 'api' (PULSE_POLICE_MODE)")
    cfg = source_config(settings, source, IncidentSourceConfig)
    ctx = police_context(settings, source)
    with Warehouse(ctx.warehouse_url) as wh:
        prepare_warehouse(wh, neighborhood_rows(settings))

        # extract + land: every file or API page is landed raw before anything else happens
        watermark = None
        if mode == "api":
            since = since or get_watermark(wh, source)
            token = settings.socrata_app_token.get_secret_value() if settings.socrata_app_token else None
            batches, watermark = land_api_pages(ctx, cfg, since, token, log=get_run_logger().warning)
        else:
            paths = [Path(f) for f in files] if files else police_files(settings, source)
            batches = [land_file(ctx, p, ctx.adapter.read_raw) for p in paths]

        # standardize -> validate -> geocode -> load, per batch
        summaries, failures = load_batches(wh, ctx, feed_spec(ctx, city_neighborhoods(settings)), batches)
        if mode == "api" and watermark and not failures:
            # Only after every page of the extraction loaded: the watermark never passes unloaded data.
            set_watermark(wh, source, watermark, batches[-1].batch_id if batches else None)
    publish_batch_artifacts(source, summaries, settings)
    raise_if_failed(source, failures)
    return summaries

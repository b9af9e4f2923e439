"""Health outcomes and community voice: extract -> land raw -> standardize -> validate -> geocode -> load.

- ``medical_examiner_flow``: one Cook County Medical Examiner export per ``[sources.*]`` table
  (Hub or portal layout); a newer export revises a case by its edit time, every export's values
  kept in ``fct_medical_examiner_case_versions``; the export's provisional window recorded;
- ``survey_indicators_flow``: Chicago Health Atlas downloads (Healthy Chicago Survey indicators
  per community area), one batch per file;
- ``police_sentiment_flow``: CPD police sentiment scores by district and sector, plus the
  district/sector -> community-area crosswalk ``mart_community_voice`` joins on.
"""
from __future__ import annotations

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.artifacts import publish_batch_artifacts
from flows.city_inputs import (address_geocoder, city_neighborhoods, city_population, feed_context, input_file,
                               input_files, neighborhood_rows, source_config)
from flows.feed_runs import load_batches, raise_if_failed
from flows.settings import Settings
from tasks.geocode.case_locations import case_geocoder
from tasks.ingest.health_feeds import (crosswalk_rows, estimated_window, examiner_adapter, examiner_reader,
                                       examiner_spec, export_window, sentiment_reader, sentiment_spec, survey_reader, survey_spec)
from tasks.ingest.prefect_tasks import land_file, prepare_warehouse
from tasks.sources.catalog import CommunitySurveyConfig, MedicalExaminerConfig, PoliceSentimentConfig
from warehouse.health_refs import (read_case_versions, record_death_export, record_estimated_window,
                                   replace_police_crosswalk)
from warehouse.resource import Warehouse


@task(name="record-export-window", tags=["warehouse"], cache_policy=NO_CACHE)
def record_export_window(wh: Warehouse, row: dict) -> dict:
    """Write the export's provisional window (its last N months of data) to ref_death_exports."""
    return record_death_export(wh, row)


@task(name="estimate-provisional-window", tags=["warehouse"], cache_policy=NO_CACHE)
def estimate_window(wh: Warehouse) -> tuple[str, str, int] | None:
    """Estimate the data-lag window from the revisions the stored exports show; store it beside the config's."""
    found = estimated_window(read_case_versions(wh))
    if found is not None:
        record_estimated_window(wh, found[0], found[2])
    return found


@task(name="police-unit-crosswalk", tags=["geocode"], cache_policy=NO_CACHE)
def load_police_crosswalk(wh: Warehouse, settings: Settings, cfg: PoliceSentimentConfig) -> int:
    """Build the district/sector -> community-area weights from the boundary files and store them."""
    rows = crosswalk_rows(input_file(settings, cfg.beats_file, "police beat file"),
                          input_file(settings, cfg.districts_file, "police district file"),
                          city_neighborhoods(settings), settings.city.city.projected_crs, city_population(settings))
    return replace_police_crosswalk(wh, rows)


@flow(name="medical-examiner", flow_run_name="medical examiner {source}")
def medical_examiner_flow(source: str, settings: Settings | None = None) -> list[dict]:
    """Load one examiner export into fct_medical_examiner_cases (and its case versions)."""
    settings = settings or Settings()
    log = get_run_logger()
    cfg = source_config(settings, source, MedicalExaminerConfig)
    city = settings.city.city
    adapter = examiner_adapter(cfg.adapter_table(), city.timezone)
    path = input_file(settings, cfg.file, "medical-examiner export")
    geocode = case_geocoder(city_neighborhoods(settings), projected_crs=city.projected_crs, xy_crs="EPSG:3435",
                            address_geocoder=(lambda: address_geocoder(settings)) if cfg.address_fallback else None,
                            city_name=city.name)
    ctx = feed_context(settings, source)
    with Warehouse(ctx.warehouse_url) as wh:
        prepare_warehouse(wh, neighborhood_rows(settings))
        batch = land_file(ctx, path, examiner_reader(adapter))
        summaries, failures = load_batches(wh, ctx, examiner_spec(source, adapter, geocode), [batch])
        if not failures:
            window = record_export_window(wh, export_window(source, cfg.label, cfg.layout, cfg.provisional_months))
            log.info("%s: last death %s, provisional window %d months", cfg.label, window["last_death_date"],
                     window["provisional_months"])
            found = estimate_window(wh)
            if found is not None:
                log.info("%s revises %s: opioid-flag completeness puts the provisional window at %d months "
                         "(config: provisional_months = %d)", found[0], found[1], found[2], cfg.provisional_months)
    publish_batch_artifacts(source, summaries, settings)
    raise_if_failed(source, failures)
    return summaries


@flow(name="survey-indicators", flow_run_name="survey indicators {source}")
def survey_indicators_flow(source: str = "community_survey", settings: Settings | None = None) -> list[dict]:
    """Load Health Atlas downloads into fct_survey_indicators (one batch per file)."""
    settings = settings or Settings()
    cfg = source_config(settings, source, CommunitySurveyConfig)
    ctx = feed_context(settings, source)
    with Warehouse(ctx.warehouse_url) as wh:
        prepare_warehouse(wh, neighborhood_rows(settings))
        batches = [land_file(ctx, p, survey_reader(cfg.encoding)) for p in input_files(settings, cfg.files)]
        summaries, failures = load_batches(wh, ctx, survey_spec(source, city_neighborhoods(settings)), batches)
    publish_batch_artifacts(source, summaries, settings)
    raise_if_failed(source, failures)
    return summaries


@flow(name="police-sentiment", flow_run_name="police sentiment {source}")
def police_sentiment_flow(source: str = "police_sentiment", settings: Settings | None = None) -> list[dict]:
    """Load sentiment exports into fct_police_sentiment and refresh the police-unit crosswalk."""
    settings = settings or Settings()
    cfg = source_config(settings, source, PoliceSentimentConfig)
    ctx = feed_context(settings, source)
    with Warehouse(ctx.warehouse_url) as wh:
        prepare_warehouse(wh, neighborhood_rows(settings))
        load_police_crosswalk(wh, settings, cfg)
        batches = [land_file(ctx, p, sentiment_reader) for p in input_files(settings, cfg.files)]
        summaries, failures = load_batches(wh, ctx, sentiment_spec(source), batches)
    publish_batch_artifacts(source, summaries, settings)
    raise_if_failed(source, failures)
    return summaries

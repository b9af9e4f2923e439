"""Outcome feeds and the outcomes step (docs/outcomes.md): Prefect wiring only.

- ``teds_discharges_flow`` (group treatment): TEDS-D public-use rows -> fct_teds_state_discharges;
- ``arrests_flow`` (group outcomes, after programs): a person-level arrests export ->
  fct_arrests; the SYNTHETIC demo export is generated first when absent (it needs the police
  arrests, the demo programs and the demo admissions loaded or written);
- ``provider_discharges_flow``: the admissions the demo adds for participants, then provider
  discharges -> fct_treatment_discharges (checked against the admissions loaded);
- ``outcome_measures_flow``: linkage, matched re-arrest risk ratios, survival curves, treatment
  measures and the TEDS-D benchmark -> the restricted result tables the outcome marts read.
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.artifacts import publish_batch_artifacts
from flows.city_inputs import city_neighborhoods, feed_context, input_file, input_files, neighborhood_rows, source_config
from flows.feed_runs import load_batches, raise_if_failed
from flows.programs import demo_folder
from flows.settings import Settings
from flows.treatment import admissions_key, city_address_geocoder, demo_export_path
from schemas.errors import InputError
from tasks.geocode.address_step import address_geocode_step
from tasks.ingest.outcome_feeds import (ARRESTS_READER, PROVIDER_DISCHARGES_READER, TEDS_DISCHARGES_READER, arrests_spec,
                                        charge_codes, neighborhood_ids, provider_discharges_spec, teds_discharges_spec)
from tasks.ingest.prefect_tasks import land_file, prepare_warehouse
from tasks.ingest.treatment_feeds import (ADDRESS_COLUMN, SUITES, admissions_spec, provider_batches,
                                          sensitive_columns)
from tasks.outcomes.measures import compute_outcomes
from tasks.sources.catalog import (ArrestsExportConfig, OutcomeMeasuresConfig, ProviderDischargesConfig,
                                   TedsDischargesConfig)
from tasks.synthetic.outcome_files import demo_summary, write_outcome_demo
from warehouse.build_state import build_fingerprint, read_build_state, unchanged_since, write_build_state
from warehouse.outcome_results import read_admission_ids, read_outcome_inputs, replace_outcome_tables
from warehouse.resource import Warehouse

ARRESTS_SOURCE, DISCHARGES_SOURCE, TEDS_D_SOURCE, MEASURES_SOURCE = (
    "arrests_demo", "treatment_discharges_demo", "treatment_teds_discharges", "outcome_measures")
MEASURES_STATE = "outcome_measures"  # <work_dir>/state/outcome_measures.json: the inputs of the last results
MEASURES_CODE = ("tasks/outcomes", "schemas/outcomes.py", "schemas/outcome_results.py", "warehouse/outcome_results.py")


def arrests_export_path(settings: Settings, source: str = ARRESTS_SOURCE) -> Path:
    return settings.work_dir / source_config(settings, source, ArrestsExportConfig).export


@task(name="generate-demo-outcomes", tags=["extract", "synthetic"], cache_policy=NO_CACHE)
def generate_demo_outcomes(settings: Settings, source: str = ARRESTS_SOURCE, seed: int | None = None,
                           out_dir: Path | None = None) -> str:
    """Write the SYNTHETIC arrests, linked admissions and discharges exports; return a one-line summary."""
    cfg = source_config(settings, source, ArrestsExportConfig)
    folder = out_dir or arrests_export_path(settings, source).parent
    with Warehouse(settings.resolved_warehouse_url) as wh:
        demo = write_outcome_demo(folder, wh.engine, demo_folder(settings, cfg.programs_source),
                                  demo_export_path(settings, cfg.admissions_source), settings.data_dir,
                                  seed=cfg.seed if seed is None else seed, planted_rr=cfg.planted_rr,
                                  defect_rate=cfg.defect_rate)
    return f"{demo_summary(demo)} -> {folder} (SYNTHETIC)"


def _export(settings: Settings, path: Path, file: str | None, generate_source: str, log) -> Path:
    if file:
        if not Path(file).exists():
            raise InputError(file, "file not found", "Check the path")
        return Path(file)
    if not path.exists():
        log.info("no demo export at %s: generating the outcomes demo (seeded, SYNTHETIC)", path)
        log.info("%s", generate_demo_outcomes(settings, generate_source))
    if not path.exists():
        raise InputError(path, "the outcomes demo did not write this export",
                         "Point [sources.*] export at demo/outcomes/<arrests|treatment_discharges>.csv")
    return path


@flow(name="outcomes-arrests", flow_run_name="arrests {source}")
def arrests_flow(source: str = ARRESTS_SOURCE, settings: Settings | None = None, file: str | None = None) -> list[dict]:
    """Load a person-level arrests export (``file``, else the configured one; the demo is generated if absent)."""
    settings = settings or Settings()
    log = get_run_logger()
    cfg = source_config(settings, source, ArrestsExportConfig)
    path = _export(settings, arrests_export_path(settings, source), file, source, log)
    key = admissions_key(settings, path, log)
    codes = charge_codes(input_file(settings, cfg.code_table, "IUCR code table"))
    ctx = feed_context(settings, source)
    with Warehouse(ctx.warehouse_url) as wh:
        prepare_warehouse(wh, neighborhood_rows(settings))
        batch = land_file(ctx, path, ARRESTS_READER)
        spec = arrests_spec(source, key, datetime.now(), codes, neighborhood_ids(city_neighborhoods(settings)),
                            batch.columns)
        summaries, failures = load_batches(wh, ctx, spec, [batch])
    publish_batch_artifacts(source, summaries, settings)
    raise_if_failed(source, failures)
    return summaries


@flow(name="outcomes-discharges", flow_run_name="treatment discharges {source}")
def provider_discharges_flow(source: str = DISCHARGES_SOURCE, settings: Settings | None = None,
                             file: str | None = None) -> list[dict]:
    """Load the linked admissions (if configured), then a provider discharges export."""
    settings = settings or Settings()
    log = get_run_logger()
    cfg = source_config(settings, source, ProviderDischargesConfig)
    path = _export(settings, settings.work_dir / cfg.export, file, cfg.arrests_source, log)
    key = admissions_key(settings, path, log)
    linked = settings.work_dir / cfg.linked_admissions if cfg.linked_admissions and not file else None
    ctx = feed_context(settings, source)
    summaries, failures = [], []
    with Warehouse(ctx.warehouse_url) as wh:
        prepare_warehouse(wh, neighborhood_rows(settings))
        if linked is not None and linked.exists():
            adm = land_file(ctx, linked, provider_batches)
            geocode = address_geocode_step(lambda: city_address_geocoder(settings), ADDRESS_COLUMN,
                                           zip_col="residence_zip", warehouse=wh, cache_secret=key)
            spec = admissions_spec(source, SUITES["treatment_admissions"], key, geocode,
                                   sensitive_columns(adm.columns), datetime.now())
            summaries, failures = load_batches(wh, ctx, spec, [adm])
        batch = land_file(ctx, path, PROVIDER_DISCHARGES_READER)
        spec = provider_discharges_spec(source, key, datetime.now(), read_admission_ids(wh), batch.columns)
        more, more_failures = load_batches(wh, ctx, spec, [batch])
    publish_batch_artifacts(source, summaries + more, settings)
    raise_if_failed(source, failures + more_failures)
    return summaries + more


@flow(name="outcomes-teds-discharges", flow_run_name="TEDS-D state rows {source}")
def teds_discharges_flow(source: str = TEDS_D_SOURCE, settings: Settings | None = None,
                         files: list[str] | None = None) -> list[dict]:
    """Load TEDS-D public-use files into fct_teds_state_discharges (state level)."""
    settings = settings or Settings()
    cfg = source_config(settings, source, TedsDischargesConfig)
    paths = [Path(f) for f in files] if files else input_files(settings, cfg.files)
    ctx = feed_context(settings, source)
    with Warehouse(ctx.warehouse_url) as wh:
        prepare_warehouse(wh)
        batches = [land_file(ctx, p, TEDS_DISCHARGES_READER) for p in paths]
        summaries, failures = load_batches(wh, ctx, teds_discharges_spec(source), batches)
    publish_batch_artifacts(source, summaries, settings)
    raise_if_failed(source, failures)
    return summaries


@task(name="read-outcome-inputs", tags=["outcomes"], cache_policy=NO_CACHE)
def read_inputs_task(wh: Warehouse, programs_source: str):
    return read_outcome_inputs(wh, programs_source)


@task(name="compute-outcomes", tags=["outcomes"], cache_policy=NO_CACHE)
def compute_task(inputs, threshold: int, k: int, seed: int):
    return compute_outcomes(inputs, threshold, k=k, seed=seed)


@task(name="write-outcome-results", tags=["outcomes", "warehouse"], cache_policy=NO_CACHE)
def write_task(wh: Warehouse, results) -> dict[str, int]:
    return replace_outcome_tables(wh, results, datetime.now())


@flow(name="outcomes-measures", flow_run_name="outcome measures")
def outcome_measures_flow(source: str = MEASURES_SOURCE, settings: Settings | None = None) -> list[dict]:
    """Link the person-level feeds and replace the outcome result tables (restricted); the dbt marts read them."""
    settings = settings or Settings()
    log = get_run_logger()
    cfg = source_config(settings, source, OutcomeMeasuresConfig)
    with Warehouse(settings.resolved_warehouse_url) as wh:
        prepare_warehouse(wh)
        # Recomputed only when a load, the config, the threshold or the outcome code changed since.
        fingerprint = build_fingerprint(wh, settings.city_config, settings.small_cell_threshold, code=MEASURES_CODE)
        built_at = unchanged_since(read_build_state(settings.work_dir, MEASURES_STATE), fingerprint)
        if built_at:
            log.info("outcome results unchanged: no input changed since %s, skipped", built_at)
            return []
        results = compute_task(read_inputs_task(wh, cfg.programs_source), settings.small_cell_threshold, cfg.k, cfg.seed)
        written = write_task(wh, results)
    write_build_state(settings.work_dir, fingerprint, {}, MEASURES_STATE)
    for note in results.notes:
        log.info("%s", note)
    log.info("outcome results: %s", ", ".join(f"{t} {n:,}" for t, n in written.items()))
    return []

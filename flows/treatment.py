"""Treatment feeds: extract -> land raw -> standardize -> validate -> geocode -> load.

- ``treatment_flow``: provider admission exports (person-level; the demo export is SYNTHETIC and
  generated on first use), client ids pseudonymized, residences geocoded to neighborhoods;
- ``teds_flow``: TEDS-A public-use rows (state level, no neighborhoods);
- ``facilities_flow``: treatment facility listings, points joined to neighborhoods;
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.city_inputs import (address_geocoder, city_neighborhoods, feed_context, input_files, neighborhood_rows,
                               source_config)
from flows.feed_runs import load_batches, raise_if_failed
from flows.artifacts import publish_batch_artifacts
from flows.secrets import KEY_FILE, pseudonym_key
from flows.settings import Settings
from tasks.geocode.address_step import address_geocode_step
from schemas.errors import ConfigError
from tasks.ingest.prefect_tasks import land_file
from tasks.sources import treatment_facilities
from tasks.synthetic.treatment import write_demo_admissions
from tasks.ingest.treatment_feeds import (ADDRESS_COLUMN, SUITES, admissions_spec, export_is_synthetic,
                                   facilities_spec, land_facilities, provider_batches,
                                   sensitive_columns, teds_batches, teds_column_notes, teds_spec)
from tasks.ingest.prefect_tasks import prepare_warehouse
from tasks.sources.catalog import FacilitiesConfig, TedsConfig, TreatmentProviderConfig
from warehouse.resource import Warehouse

DEMO_SOURCE, PROVIDER_SOURCE, TEDS_SOURCE, FACILITIES_SOURCE = (
    "treatment_demo", "treatment_provider", "treatment_teds", "treatment_facilities")


def city_address_geocoder(settings: Settings):
    """The offline address geocoder for this city (built once per process)."""
    return address_geocoder(settings)


@task(name="generate-demo-admissions", tags=["extract", "synthetic"], cache_policy=NO_CACHE)
def generate_demo_export(path: Path, data_dir: Path, rows: int, seed: int, defect_rate: float) -> Path:
    """Write the SYNTHETIC demo export (and its defects/truth/meta files)."""
    return write_demo_admissions(path, data_dir, n=rows, seed=seed, defect_rate=defect_rate)


def demo_export_path(settings: Settings, source: str = DEMO_SOURCE) -> Path:
    return settings.work_dir / source_config(settings, source, TreatmentProviderConfig).export


def admissions_input(settings: Settings, file: str | None, log, source: str = DEMO_SOURCE) -> tuple[Path, str]:
    """Return (export path, source slug): the given file, or the configured export (the demo export is
    generated when absent)."""
    if file:
        return Path(file), PROVIDER_SOURCE
    path = demo_export_path(settings, source)
    if not path.exists():
        cfg = source_config(settings, source, TreatmentProviderConfig)
        generate_demo_export(path, settings.data_dir, cfg.rows, cfg.seed, cfg.defect_rate)
        log.info("generated a SYNTHETIC demo export of %d admissions at %s", cfg.rows, path)
    return path, source


def admissions_key(settings: Settings, export: Path, log) -> bytes:
    """Return the pseudonymization key for an export (``flows.secrets.pseudonym_key``).

    Without PULSE_PSEUDONYM_KEY only a synthetic export (the demo) may use the work-dir key file
    (created once, mode 0600); a real export fails with one line. The key is never logged.
    """
    if settings.pseudonym_key is not None:
        return pseudonym_key(settings)
    if not export_is_synthetic(export):
        raise ConfigError("PULSE_PSEUDONYM_KEY", "is not set; client ids of treatment admissions are pseudonymized "
                          "with it", 'Set it to a random secret, e.g. export PULSE_PSEUDONYM_KEY="$(python -c '
                          "'import secrets; print(secrets.token_hex(32))')\"")
    key_file = settings.work_dir / KEY_FILE
    existed = key_file.exists()
    key = pseudonym_key(settings)
    if existed:
        log.info("PULSE_PSEUDONYM_KEY is not set: using the demo key in %s for the synthetic export", key_file)
    else:
        log.warning("PULSE_PSEUDONYM_KEY is not set: generated a random pseudonymization key in %s (mode 0600) "
                    "for the synthetic demo export; set PULSE_PSEUDONYM_KEY before loading real exports", key_file)
    return key


# -- flows -----------------------------------------------------------------------------------

@flow(name="treatment-admissions", flow_run_name="treatment admissions")
def treatment_flow(source: str = DEMO_SOURCE, settings: Settings | None = None, file: str | None = None) -> list[dict]:
    """Load a provider admissions export: ``file``, else the export ``[sources.<source>]`` names (the
    SYNTHETIC demo export, generated if absent)."""
    settings = settings or Settings()
    log = get_run_logger()
    path, source = admissions_input(settings, file, log, source)
    key = admissions_key(settings, path, log)
    ctx = feed_context(settings, source)
    with Warehouse(ctx.warehouse_url) as wh:
        prepare_warehouse(wh, neighborhood_rows(settings))
        batch = land_file(ctx, path, provider_batches)
        geocode = address_geocode_step(lambda: city_address_geocoder(settings), ADDRESS_COLUMN,
                                       zip_col="residence_zip", warehouse=wh, cache_secret=key)
        spec = admissions_spec(source, SUITES["treatment_admissions"], key,
                               geocode, sensitive_columns(batch.columns), datetime.now())
        summaries, failures = load_batches(wh, ctx, spec, [batch])
    publish_batch_artifacts(source, summaries, settings)
    raise_if_failed(source, failures)
    return summaries


@flow(name="treatment-teds", flow_run_name="treatment TEDS-A state rows")
def teds_flow(source: str = TEDS_SOURCE, settings: Settings | None = None, files: list[str] | None = None) -> list[dict]:
    """Load TEDS-A public-use files into fct_teds_state_admissions (state level)."""
    settings = settings or Settings()
    log = get_run_logger()
    cfg = source_config(settings, source, TedsConfig)
    paths = [Path(f) for f in files] if files else input_files(settings, cfg.files)
    year = cfg.admission_year
    ctx = feed_context(settings, source)
    with Warehouse(ctx.warehouse_url) as wh:
        prepare_warehouse(wh)
        batches = [land_file(ctx, p, teds_batches) for p in paths]
        for b in batches:
            for note in teds_column_notes(b.columns, year):
                log.info("%s: %s", Path(b.origin).name, note)
        spec = teds_spec(source, SUITES["teds_admissions"], year)
        summaries, failures = load_batches(wh, ctx, spec, batches)
    publish_batch_artifacts(source, summaries, settings)
    raise_if_failed(source, failures)
    return summaries


@flow(name="treatment-facilities", flow_run_name="treatment facilities")
def facilities_flow(source: str = FACILITIES_SOURCE, settings: Settings | None = None) -> list[dict]:
    """Load the treatment facility listings into dim_treatment_facilities with their neighborhoods."""
    settings = settings or Settings()
    cfg = source_config(settings, source, FacilitiesConfig)
    known = sorted(rel for rel, _ in treatment_facilities.SOURCE_FILES.values())
    if sorted(cfg.files) != known:
        raise ConfigError(settings.city_config, f"[sources.{source}] files must be the adapter's layouts",
                          f"Set files = {known}")
    paths = input_files(settings, cfg.files)
    ctx = feed_context(settings, source)
    city = settings.city.city
    with Warehouse(ctx.warehouse_url) as wh:
        prepare_warehouse(wh, neighborhood_rows(settings))
        batch = land_facilities(ctx, settings.data_dir, paths)
        spec = facilities_spec(source, city_neighborhoods(settings), city.bbox, city.projected_crs,
                               settings.snap_tolerance_m)
        summaries, failures = load_batches(wh, ctx, spec, [batch])
    publish_batch_artifacts(source, summaries, settings)
    raise_if_failed(source, failures)
    return summaries

"""Program attendance: land raw -> standardize -> validate -> geocode sites -> load.

Two feeds, one path: the Chicago Public Library branch visits (``programs_cpl``, real) and the
synthetic drug-response programs (``programs_demo``, generated and labelled SYNTHETIC). Programs
load first, then their sessions (checked against the programs in the warehouse), then the
sign-in rosters (checked against the sessions loaded).
"""
from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger

from flows.city_inputs import (address_geocoder, city_neighborhoods, feed_context, input_files, neighborhood_rows,
                               source_config)
from flows.feed_runs import load_batches, raise_if_failed
from flows.artifacts import publish_batch_artifacts
from flows.secrets import pseudonym_key
from flows.settings import Settings
from schemas.programs import program_suite_parameters
from tasks.geocode.address_step import address_geocode_step
from schemas.errors import ConfigError, InputError
from tasks.ingest.prefect_tasks import land_file, prepare_warehouse
from tasks.ingest.program_feeds import (SITE_ADDRESS, LazyStep, ProgramContext, cpl_locations_reader, cpl_visitors_reader,
                                 demo_programs_standard, demo_reader, geocode_sites, known_programs,
                                 known_session_ids, landed_programs_standard, library_cells_batch,
                                 library_programs_batch, program_fingerprint, programs_spec, referenced_ids,
                                 revalidation_batch, roster_spec, session_fingerprint, sessions_spec, standardize_library)
from tasks.sources import programs_cpl as cpl
from tasks.sources import programs_demo as demo
from tasks.synthetic import programs as demo_gen
from tasks.sources.catalog import ProgramsCplConfig, ProgramsDemoConfig
from warehouse.load import clear_stage
from warehouse.resource import Warehouse

LIBRARY, DEMO = "programs_cpl", "programs_demo"



# ---------------------------------------------------------------- run values from Settings

def program_context(settings: Settings, source: str) -> ProgramContext:
    city, base = settings.city.city, feed_context(settings, source)
    return ProgramContext(**{f: getattr(base, f) for f in ("source", "warehouse_url", "raw_dir", "stage_dir",
                                                           "chunk_rows", "load_slot_wait_s")},
                          projected_crs=city.projected_crs, snap_tolerance_m=settings.snap_tolerance_m,
                          program_parameters=program_suite_parameters(list(city.bbox)))


def demo_folder(settings: Settings, source: str = DEMO) -> Path:
    """Where ``pulse demo-data programs`` writes the demo files by default (under the work dir)."""
    return settings.work_dir / source_config(settings, source, ProgramsDemoConfig).out_dir


def generate_demo(settings: Settings, out_dir: Path, seed: int | None = None, source: str = DEMO) -> demo_gen.DemoFeed:
    """Write the seeded synthetic programs.csv, sessions.csv and roster.csv to ``out_dir``; return the feed."""
    cfg, nb = source_config(settings, source, ProgramsDemoConfig), settings.city.neighborhoods
    if not nb.population_file:
        raise ConfigError(settings.city_config, "the demo programs are placed by drug incidents per resident and "
                          "[neighborhoods] names no population_file", "Add a population table, or drop "
                          f"[sources.{source}]")
    return demo_gen.write_demo_programs(
        out_dir, settings.data_dir, cfg.seed if seed is None else seed,
        neighborhoods_file=nb.file, id_field=nb.id_field, name_field=nb.name_field,
        population_file=nb.population_file, population_id_field=nb.population_id_field,
        population_field=nb.population_field, crimes_file=cfg.crimes_file)


def site_geocoder(settings: Settings, ctx: ProgramContext, wh: Warehouse):
    """Return the programs' geocode function: points -> polygon, addresses -> offline geocoder (built lazily)."""
    neighborhoods = city_neighborhoods(settings)

    def build():
        # Cache keys are HMACs of the address: the cache holds no readable site address.
        return address_geocode_step(address_geocoder(settings), SITE_ADDRESS, warehouse=wh,
                                    cache_secret=pseudonym_key(settings))

    by_address = LazyStep(build)
    return lambda frame: geocode_sites(frame, neighborhoods, projected_crs=ctx.projected_crs,
                                       snap_tolerance_m=ctx.snap_tolerance_m, by_address=by_address)


def _existing(settings: Settings, paths: list[str], relative: bool) -> list[Path]:
    if relative:
        return input_files(settings, paths)
    out = [Path(p) for p in paths]
    for p in out:
        if not p.exists():
            raise InputError(p, "file not found", "Check the path (demo files: run `pulse demo-data programs`)")
    return out


class _Loads:
    """Summaries and failures of the batches a flow loads; later entities wait for earlier ones."""

    def __init__(self) -> None:
        self.summaries: list[dict] = []
        self.failures: list[str] = []

    def add(self, result: tuple[list[dict], list[str]]) -> None:
        self.summaries += result[0]
        self.failures += result[1]

    @property
    def ok(self) -> bool:
        return not self.failures


# ---------------------------------------------------------------- flows

@flow(name="programs-library", flow_run_name="programs {source}")
def library_programs_flow(source: str = LIBRARY, files: list[str] | None = None, locations_file: str | None = None,
                          settings: Settings | None = None) -> list[dict]:
    """Load CPL branches (dim_programs) and their monthly visits (fct_program_sessions, one per month cell)."""
    settings = settings or Settings()
    log = get_run_logger()
    cfg = source_config(settings, source, ProgramsCplConfig)
    ctx = program_context(settings, source)
    paths = _existing(settings, files or cfg.files, relative=not files)
    where = locations_file or cfg.locations_file
    loads = _Loads()
    with Warehouse(ctx.warehouse_url) as wh:
        prepare_warehouse(wh, neighborhood_rows(settings))
        visitors = [land_file(ctx, p, cpl_visitors_reader) for p in paths]
        locations = (land_file(ctx, _existing(settings, [where], relative=not locations_file)[0],
                               cpl_locations_reader) if where else None)

        years, combined = standardize_library(visitors, locations)
        for issue in combined.issues.itertuples():
            (log.warning if issue.severity == "warning" else log.info)("%s: %s", issue.where, issue.problem)
        loads.add(load_batches(wh, ctx, programs_spec(ctx, landed_programs_standard, site_geocoder(settings, ctx, wh)),
                               [library_programs_batch(ctx, combined, visitors, locations)]))
        if loads.ok:
            programs = known_programs(wh)
            cells = [revalidation_batch(library_cells_batch(ctx, b, y),
                                        program_fingerprint(y.cells["program_id"], programs))
                     for b, y in zip(visitors, years)]
            loads.add(load_batches(wh, ctx, sessions_spec(ctx, cpl.cells_to_sessions, programs), cells))
        else:
            log.warning("%s: branches did not load, so their monthly visits were not loaded", source)
    clear_stage(ctx.stage_dir / source / "derived")
    publish_batch_artifacts(source, loads.summaries, settings)
    raise_if_failed(source, loads.failures)
    return loads.summaries


@flow(name="programs-demo", flow_run_name="programs {source}")
def demo_programs_flow(source: str = DEMO, folder: str | None = None, settings: Settings | None = None) -> list[dict]:
    """Load the synthetic programs, sessions and (pseudonymized) rosters; generate the files first if absent."""
    settings = settings or Settings()
    log = get_run_logger()
    ctx = program_context(settings, source)
    base = Path(folder) if folder else demo_folder(settings, source)
    files = {kind: base / name for kind, (name, _) in demo.FILES.items()}
    if not folder and not files["programs"].exists():
        log.info("no demo files in %s: generating them (seeded, SYNTHETIC)", base)
        generate_demo(settings, base, source=source)
    _existing(settings, [str(files["programs"]), str(files["sessions"])], relative=False)
    loads = _Loads()
    with Warehouse(ctx.warehouse_url) as wh:
        prepare_warehouse(wh, neighborhood_rows(settings))
        landed = {kind: land_file(ctx, path, demo_reader(kind)) for kind, path in files.items()
                  if kind != "roster" or path.exists()}
        loads.add(load_batches(wh, ctx, programs_spec(ctx, demo_programs_standard, site_geocoder(settings, ctx, wh),
                                                      landed["programs"].origin), [landed["programs"]]))
        if loads.ok:
            programs = known_programs(wh)
            batch = revalidation_batch(landed["sessions"], program_fingerprint(
                referenced_ids(landed["sessions"], "PROGRAM_ID"), programs))
            loads.add(load_batches(wh, ctx, sessions_spec(ctx, demo.sessions_to_standard, programs, batch.origin),
                                   [batch]))
        if loads.ok and "roster" in landed:
            sessions = known_session_ids(wh)
            batch = revalidation_batch(landed["roster"], session_fingerprint(
                referenced_ids(landed["roster"], "SESSION_ID"), sessions))
            loads.add(load_batches(wh, ctx, roster_spec(ctx, pseudonym_key(settings), sessions, batch.origin),
                                   [batch]))
    if not loads.ok:
        log.warning("%s: later files wait until the failed one loads", source)
    publish_batch_artifacts(source, loads.summaries, settings)
    raise_if_failed(source, loads.failures)
    return loads.summaries

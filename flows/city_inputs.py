"""Plain run values built from Settings and the typed city config, once per flow run.

Everything a feed's tasks need as values (paths checked to exist inside the data directory,
boundary polygons, population, offense codes, contexts) is made here, so tasks and adapters never
read configuration themselves. Expensive inputs (polygons, the address geocoder) are cached per
process.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from flows.settings import Settings
from schemas.city_config import IncidentSourceConfig, SourceConfig
from schemas.errors import ConfigError, InputError
from tasks.geocode.address_geocoder import AddressGeocoder
from tasks.geocode.neighborhoods import neighborhood_dimension, read_population
from tasks.geocode.points import load_neighborhoods
from tasks.ingest.police_feed import PoliceContext, suite_parameters
from tasks.ingest.prefect_tasks import FeedContext
from tasks.sources.code_tables import read_offense_codes
from tasks.sources.incident_adapters import incident_adapter
from tasks.sources.mapped_config import resolve_files


def input_file(settings: Settings, relative: str, what: str = "input file") -> Path:
    """Return a configured input path inside the data directory; one line when it does not exist."""
    path = settings.data_path(relative)
    if not path.exists():
        raise InputError(path, f"{what} not found",
                         "Set PULSE_DATA_DIR to the folder holding the shared data, or fix the path in the city config")
    return path


def input_files(settings: Settings, relative: list[str], what: str = "source file") -> list[Path]:
    return [input_file(settings, f, what) for f in relative]


def source_config(settings: Settings, source: str, kind: type[SourceConfig] = SourceConfig) -> SourceConfig:
    """Return ``[sources.<source>]``; one ConfigError line when it is missing or of another adapter."""
    cfg = settings.city.source(source)
    if not isinstance(cfg, kind):
        raise ConfigError(settings.city_config, f"[sources.{source}] uses adapter {cfg.adapter!r}, which is not "
                          f"a {kind.__name__.removesuffix('Config').lower()} source", "Pick a source of that kind")
    return cfg


@lru_cache(maxsize=4)
def _polygons(path: str, id_field: str, name_field: str, crs: str):
    return load_neighborhoods(path, id_field, name_field, crs)


def city_neighborhoods(settings: Settings):
    """The city's neighborhood polygons (``neighborhood_id``, ``name``, geometry in EPSG:4326)."""
    nb = settings.city.neighborhoods
    return _polygons(str(input_file(settings, nb.file, "boundary file")), nb.id_field, nb.name_field, nb.crs)


def city_population(settings: Settings):
    """Population per neighborhood (``neighborhood_id``, ``population``), or None when the config has none."""
    nb = settings.city.neighborhoods
    if not nb.population_file:
        return None
    return read_population(input_file(settings, nb.population_file, "population file"), nb.population_id_field,
                           nb.population_field)


def neighborhood_rows(settings: Settings):
    """Rows of dim_neighborhoods for the city (population null when the config names no table)."""
    nb = settings.city.neighborhoods
    return neighborhood_dimension(city_neighborhoods(settings), city_population(settings),
                                  settings.city.city.projected_crs, title_case=nb.name_case == "title")


def offense_codes(settings: Settings, cfg: IncidentSourceConfig) -> list[str] | None:
    """Known offense codes from the source's code table (None when the config names none)."""
    if cfg.code_table is None:
        return None
    return read_offense_codes(input_file(settings, cfg.code_table.file, "offense code table"), cfg.code_table.column)


def feed_context(settings: Settings, source: str) -> FeedContext:
    return FeedContext(source=source, warehouse_url=settings.resolved_warehouse_url, raw_dir=settings.raw_dir,
                       stage_dir=settings.work_dir / "staging", chunk_rows=settings.chunk_rows,
                       load_slot_wait_s=settings.load_slot_wait_seconds)


@lru_cache(maxsize=2)
def _address_geocoder(data_dir: str, id_field: str, name_field: str, snap_tolerance_m: float) -> AddressGeocoder:
    return AddressGeocoder.from_data_dir(data_dir, id_field=id_field, name_field=name_field,
                                         snap_tolerance_m=snap_tolerance_m)


def address_geocoder(settings: Settings) -> AddressGeocoder:
    """The offline address geocoder, built once per process (~3-4 s: street grid and ZIP areas)."""
    nb = settings.city.neighborhoods
    return _address_geocoder(str(settings.data_dir), nb.id_field, nb.name_field, settings.snap_tolerance_m)


def police_context(settings: Settings, source: str = "police_chicago") -> PoliceContext:
    cfg = source_config(settings, source, IncidentSourceConfig)
    city = settings.city.city
    base = feed_context(settings, source)
    return PoliceContext(
        **{f: getattr(base, f) for f in ("source", "warehouse_url", "raw_dir", "stage_dir", "chunk_rows",
                                         "load_slot_wait_s")},
        adapter=incident_adapter(cfg, city.timezone, slug=source),
        projected_crs=city.projected_crs,
        xy_crs=getattr(getattr(cfg, "coordinates", None), "xy_crs", None) or cfg.xy_crs,
        snap_tolerance_m=settings.snap_tolerance_m,
        suite_parameters=suite_parameters(city, offense_codes(settings, cfg), cfg.earliest_date),
    )


def police_files(settings: Settings, source: str = "police_chicago") -> list[Path]:
    """Return the source's configured files, glob patterns expanded in sorted order (inside the data dir)."""
    patterns = source_config(settings, source, IncidentSourceConfig).files
    for pattern in patterns:
        settings.data_path(pattern)  # refuses '..' and absolute paths with one line
    return resolve_files(settings.data_dir, patterns)

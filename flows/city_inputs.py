"""Build plain run values (paths, URLs, reference frames) from Settings, once per flow run."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pandas as pd

from flows.settings import Settings
from schemas.errors import ConfigError
from tasks.geocode.points import load_neighborhoods
from schemas.iucr_codes import known_iucr_codes
from tasks.ingest.police_feed import PoliceContext, suite_parameters
from tasks.sources.incident_adapters import incident_adapter


def _require(path: Path, what: str) -> Path:
    if not path.exists():
        raise ConfigError(path, f"{what} not found", "Set PULSE_DATA_DIR to the folder holding the shared data")
    return path


@lru_cache(maxsize=4)
def neighborhoods_for(data_dir: str, file: str, id_field: str, name_field: str, crs: str):
    return load_neighborhoods(_require(Path(data_dir) / file, "boundary file"), id_field, name_field, crs)


def city_neighborhoods(settings: Settings):
    nb = settings.city["neighborhoods"]
    return neighborhoods_for(str(settings.data_dir), nb["file"], nb["id_field"], nb["name_field"], nb.get("crs", "EPSG:4326"))


def city_population(settings: Settings) -> pd.DataFrame:
    nb = settings.city["neighborhoods"]
    pop = pd.read_csv(_require(settings.data_path(nb["population_file"]), "population file"), dtype=str)
    return pd.DataFrame({"neighborhood_id": pop[nb["population_id_field"]].str.strip(),
                         "population": pd.to_numeric(pop[nb["population_field"]], errors="coerce")})


def offense_codes(settings: Settings, cfg: dict) -> list[str] | None:
    """Known offense codes from the source's code table (None when the config names none)."""
    table = cfg.get("code_table")
    if not table:
        return None
    lookup = pd.read_csv(_require(settings.data_path(table["file"]), "offense code table"), dtype=str)
    column = table.get("column", "IUCR")
    if column not in lookup:
        raise ConfigError(settings.data_path(table["file"]), f"column '{column}' not found",
                          "Set code_table.column in the city config")
    return known_iucr_codes(lookup.rename(columns={column: "IUCR"}))


def police_context(settings: Settings, source: str = "police_chicago") -> PoliceContext:
    try:
        cfg = settings.city["sources"][source]
    except KeyError:
        raise ConfigError(settings.city_config, f"no [sources.{source}] table",
                          f"Add it or pick one of {sorted(settings.city.get('sources', {}))}") from None
    city = settings.city["city"]
    return PoliceContext(
        source=source,
        warehouse_url=settings.resolved_warehouse_url,
        raw_dir=settings.raw_dir,
        stage_dir=settings.work_dir / "staging",
        chunk_rows=settings.chunk_rows,
        adapter=incident_adapter(cfg, city["timezone"]),
        projected_crs=city["projected_crs"],
        xy_crs=cfg.get("coordinates", {}).get("xy_crs", cfg.get("xy_crs")),
        snap_tolerance_m=settings.snap_tolerance_m,
        suite_parameters=suite_parameters(settings.city, offense_codes(settings, cfg),
                                          cfg.get("earliest_date", "2001-01-01")),
    )


def police_files(settings: Settings, source: str = "police_chicago") -> list[Path]:
    """Return the source's configured files (``Settings.data_path`` keeps them inside the data directory)."""
    return [_require(settings.data_path(f), "source file") for f in settings.city["sources"][source]["files"]]

"""Build plain run values (paths, URLs, reference frames) from Settings, once per flow run."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pandas as pd

from flows.settings import Settings
from tasks.errors import ConfigError
from tasks.geocode import load_neighborhoods
from tasks.police_steps import PoliceContext, suite_parameters


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


def police_context(settings: Settings, source: str = "police_chicago") -> PoliceContext:
    cfg = settings.city["sources"][source]
    lookup = pd.read_csv(_require(settings.data_path(cfg["iucr_file"]), "IUCR lookup"), dtype=str)
    return PoliceContext(
        source=source,
        warehouse_url=settings.resolved_warehouse_url,
        raw_dir=settings.raw_dir,
        stage_dir=settings.work_dir / "staging",
        chunk_rows=settings.chunk_rows,
        projected_crs=settings.city["city"]["projected_crs"],
        xy_crs=cfg.get("xy_crs", settings.city["city"]["projected_crs"]),
        snap_tolerance_m=settings.snap_tolerance_m,
        suite_parameters=suite_parameters(settings.city, lookup, cfg.get("earliest_date", "2001-01-01")),
    )


def police_files(settings: Settings, source: str = "police_chicago") -> list[Path]:
    return [_require(settings.data_path(f), "source file") for f in settings.city["sources"][source]["files"]]

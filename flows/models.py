"""Warehouse models: load the seed tables, then build the SQL models layer by layer."""
from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from flows.settings import Settings
from schemas.city_config import IncidentSourceConfig
from warehouse.resource import Warehouse, redact
from warehouse.load import init_warehouse
from warehouse.models import LAYERS, build_models, discover_models
from warehouse.roles import apply_grants
from warehouse.seeds import load_seeds


def iucr_code_table(settings: Settings) -> tuple[Path | None, str]:
    """Return the offense code table (path, code column) of the first source that names one."""
    for cfg in settings.city.sources_of(IncidentSourceConfig).values():
        if cfg.code_table is not None:
            return settings.data_path(cfg.code_table.file), cfg.code_table.column
    return None, "IUCR"


@task(name="load-seeds", cache_policy=NO_CACHE)
def load_seeds_task(warehouse_url: str, data_dir: Path, iucr_file: Path | None, iucr_column: str) -> dict[str, int]:
    engine = Warehouse(warehouse_url)
    try:
        init_warehouse(engine)
        return load_seeds(engine, data_dir, iucr_file, iucr_column)
    finally:
        engine.close()


@task(name="build-models", task_run_name="build {layer} models", cache_policy=NO_CACHE)
def build_layer_task(warehouse_url: str, layer: str, names: list[str], threshold: int) -> list[dict]:
    """Build one layer's models; a failure raises after the layer's other models are built."""
    engine = Warehouse(warehouse_url)
    try:
        return build_models(engine, threshold=threshold, select=names)
    finally:
        engine.close()


@task(name="apply-grants", cache_policy=NO_CACHE)
def apply_grants_task(warehouse_url: str) -> None:
    engine = Warehouse(warehouse_url)
    try:
        apply_grants(engine)
    finally:
        engine.close()


@flow(name="models", flow_run_name="models")
def models_flow(settings: Settings | None = None) -> list[dict]:
    """Seed the reference tables and (re)build every SQL model; return one dict per model.

    Layers build in order (staging, dimensions, internal, marts); a failing layer stops the
    later ones, which keep their previous versions.
    """
    settings = settings or Settings()
    log = get_run_logger()
    url = settings.resolved_warehouse_url
    iucr_file, iucr_column = iucr_code_table(settings)
    seeded = load_seeds_task(url, settings.data_dir, iucr_file, iucr_column)
    log.info("seeds loaded into %s: %s", redact(url), ", ".join(f"{k} {v:,} rows" for k, v in seeded.items()))
    models = discover_models()
    results: list[dict] = []
    try:
        for layer in LAYERS:
            names = [n for n, m in models.items() if m.layer == layer]
            if not names:
                continue
            built = build_layer_task(url, layer, names, settings.small_cell_threshold)
            for r in built:
                log.info("%-28s %-5s %10s rows %6.2f s", r["name"], r["materialization"], f"{r['rows']:,}",
                         r["seconds"])
            results.extend(built)
    finally:
        # Rebuilt models are new tables: re-open the analyst allowlist (PostgreSQL; no-op on DuckDB).
        apply_grants_task(url)
    columns = ("name", "materialization", "status", "rows", "seconds")
    create_table_artifact(key="models-build", table=[{k: r[k] for k in columns} for r in results],
                          description="Warehouse models built by this run (rows, seconds)")
    return results


def build(settings: Settings) -> list[dict]:
    """Run the models flow (``pulse models build``); return one dict per model built."""
    return models_flow(settings=settings)

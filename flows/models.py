"""Warehouse models: load the code tables, run the dbt project, re-open grants, publish docs and the analyst file.

dbt runs in this process through prefect-dbt's ``PrefectDbtRunner``, so every model, test and
source freshness check of the run is a task of this flow run in the UI. A failing dbt test fails
the flow with one line (test, model.column, failing rows); ``run_results.json`` is summarised in
the ``models-build`` table artifact.
"""
from __future__ import annotations

import shutil
import threading
from contextlib import contextmanager
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_link_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from flows.settings import Settings
from schemas.city_config import IncidentSourceConfig
from warehouse.dbt_project import (PROJECT_DIR, DbtPaths, DbtTarget, dbt_args, dbt_environment, dbt_paths, dbt_target,
                                   dbt_vars, release_dbt_connections, selection_args)

NODE_TASK_WAIT_S = 300


def iucr_code_table(settings: Settings) -> tuple[Path | None, str]:
    """Return the offense code table (path, code column) of the first source that names one."""
    for cfg in settings.city.sources_of(IncidentSourceConfig).values():
        if cfg.code_table is not None:
            return settings.data_path(cfg.code_table.file), cfg.code_table.column
    return None, "IUCR"


@task(name="load-code-tables", cache_policy=NO_CACHE)
def load_code_tables_task(warehouse_url: str, data_dir: Path, iucr_file: Path | None, iucr_column: str) -> dict[str, int]:
    from warehouse.code_table_loader import load_code_tables
    from warehouse.resource import Warehouse
    from warehouse.load import init_warehouse

    engine = Warehouse(warehouse_url)
    try:
        init_warehouse(engine)
        return load_code_tables(engine, data_dir, iucr_file, iucr_column)
    finally:
        engine.close()


def run_dbt(args: list[str], target: DbtTarget, paths: DbtPaths, node_tasks: bool = True) -> str | None:
    """Run one dbt command in this process; return None when dbt succeeded, else the first line of why not.

    Inside a flow, ``node_tasks`` makes every executed node a Prefect task (PrefectDbtRunner);
    otherwise dbt's own runner is used (faster: no task per node). Node failures are read from
    run_results.json afterwards; the line returned here matters when dbt stopped before any node
    ran (a parse or compile error, an unreachable warehouse).
    """
    written = [paths.run_results] + ([paths.target / "sources.json"] if "freshness" in args else []) \
        + ([paths.build_results] if args[:1] == ["build"] else [])
    for stale in written:
        stale.unlink(missing_ok=True)  # a failed parse must not leave the previous run's results
    with dbt_environment(target), _released(), _kept(args, paths):
        if not node_tasks:
            from dbt.cli.main import dbtRunner

            # Console output: warnings and errors only (the full log is in <work_dir>/dbt/logs).
            result = dbtRunner().invoke([*args, "--log-level", "warn"])
            return None if result.success else _first_line(result.exception or "a node failed")
        from dbt_common.events.base_types import EventLevel
        from prefect_dbt import PrefectDbtRunner, PrefectDbtSettings

        # Warnings and errors only in the run logs: forwarding every INFO event of ~200 nodes
        # triples the build's wall time on 2 cores (measured: 27 s vs 74 s on the real data).
        settings = PrefectDbtSettings(project_dir=PROJECT_DIR, profiles_dir=PROJECT_DIR, target_path=paths.target,
                                      log_level=EventLevel.WARN)
        try:
            result = PrefectDbtRunner(settings=settings, raise_on_failure=False).invoke(args)
        except ValueError as exc:  # prefect-dbt raises when dbt itself raised (nothing ran)
            return _first_line(exc)
        finally:
            _wait_for_node_tasks()
        return None if result.success else "a node failed"


@contextmanager
def _kept(args: list[str], paths: DbtPaths):
    """Keep a copy of a build's run_results.json: the docs step rewrites the file."""
    try:
        yield
    finally:
        if args and args[0] == "build" and paths.run_results.exists():
            shutil.copyfile(paths.run_results, paths.build_results)


@contextmanager
def _released():
    try:
        yield
    finally:
        release_dbt_connections()


def _first_line(exc: object) -> str:
    text = str(exc).strip()
    return (text.splitlines() or [type(exc).__name__])[0][:300]


def _wait_for_node_tasks(timeout: float = NODE_TASK_WAIT_S) -> None:
    # NOTE: prefect-dbt 0.7.25 runs each node's task in a daemon thread (NodeTaskTracker.
    # run_task_in_thread, target "run_task") and returns without joining them; a flow that ends
    # first leaves those task runs "Running" in the UI. Join them before going on.
    for thread in threading.enumerate():
        if thread.daemon and thread.name.endswith("(run_task)"):
            thread.join(timeout)


@task(name="read-freshness", cache_policy=NO_CACHE)
def read_freshness_task(paths: DbtPaths) -> list[dict]:
    """Return one row per source table checked (sources.json): name, status, age_hours, max_loaded_at."""
    from warehouse.dbt_results import freshness_results, read_artifact

    return freshness_results(read_artifact(paths.target / "sources.json"))


@task(name="read-dbt-results", cache_policy=NO_CACHE)
def read_results_task(warehouse_url: str, paths: DbtPaths) -> tuple[list[dict], dict[str, list[tuple]]]:
    """Return the run's node rows (with model row counts) and a sample of each failed test's rows."""
    from warehouse.dbt_results import failed, failing_rows, model_row_counts, node_results, read_artifact
    from warehouse.resource import Warehouse

    rows = node_results(read_artifact(paths.build_results), read_artifact(paths.manifest))
    engine = Warehouse(warehouse_url)
    try:
        counts = model_row_counts(engine, [r["name"] for r in rows if r["type"] == "model"])
        samples = {r["name"]: failing_rows(engine, r["compiled_code"]) for r in failed(rows) if r["type"] == "test"}
    finally:
        engine.close()
    return [{**r, "rows": counts.get(r["name"])} for r in rows], samples


@task(name="apply-grants", cache_policy=NO_CACHE)
def apply_grants_task(warehouse_url: str, keep_closed: list[str], loader_role: str, analyst_role: str) -> str | None:
    """Re-apply the analyst allowlist (PostgreSQL); return why it was skipped, if it was."""
    from warehouse.resource import Warehouse
    from warehouse.roles import Roles, apply_grants

    engine = Warehouse(warehouse_url)
    try:
        return apply_grants(engine, Roles(loader=loader_role, analyst=analyst_role), keep_closed=keep_closed).skipped
    finally:
        engine.close()


@task(name="dbt-docs", cache_policy=NO_CACHE)
def dbt_docs_task(warehouse_url: str, paths: DbtPaths, variables: dict) -> Path | None:
    """Write the static dbt docs site (one self-contained HTML file); None when dbt could not."""
    error = run_dbt(dbt_args(["docs", "generate", "--static"], paths, variables), dbt_target(warehouse_url), paths,
                    node_tasks=False)
    built = paths.target / "static_index.html"
    if error or not built.exists():
        get_run_logger().warning("dbt docs generate failed (%s): see %s", error, paths.logs / "dbt.log")
        return None
    paths.docs.parent.mkdir(parents=True, exist_ok=True)
    built.replace(paths.docs)
    return paths.docs


@task(name="publish-analyst-file", cache_policy=NO_CACHE)
def publish_analyst_file_task(warehouse_url: str, analyst_path: Path, publish: bool) -> list[str]:
    """DuckDB: make the warehouse file private and, after a clean build, publish the analyst-only file.

    Returns the analyst file's tables ([] when nothing was published: PostgreSQL, whose
    pulse_analyst role is the analysts' view, or a failed build, which keeps the previous file).
    """
    from warehouse.analyst_file import make_private, publish_analyst_file

    target = dbt_target(warehouse_url)
    if target.duckdb_path is None:
        return []
    make_private(target.duckdb_path)
    return publish_analyst_file(target.duckdb_path, analyst_path, target.duckdb_config) if publish else []


@flow(name="models", flow_run_name="models")
def models_flow(settings: Settings | None = None, select: list[str] | None = None, exclude: list[str] | None = None,
                selector: str | None = None, node_tasks: bool = True, loader_role: str = "pulse_loader",
                analyst_role: str = "pulse_analyst") -> list[dict]:
    """Load the code tables and ``dbt build`` the project; return one row per dbt node.

    ``select`` / ``exclude`` / ``selector`` pass through to dbt (``--select`` ..., selectors in
    ``warehouse/selectors.yml``). Rows: name, type, on, status, failures, seconds, message, rows.
    Raises ``ModelBuildError`` (one line) when a model or test fails; models downstream of a
    failure are skipped by dbt and keep their previous version, and the failed ones stay closed
    to ``analyst_role`` (PostgreSQL, the group roles of ``pulse warehouse init``).
    """
    from warehouse.dbt_results import ModelBuildError, failed_relations, failure_line, summary_table

    settings = settings or Settings()
    log = get_run_logger()
    url = settings.resolved_warehouse_url
    target, paths = dbt_target(url), dbt_paths(settings.work_dir)
    iucr_file, iucr_column = iucr_code_table(settings)
    variables = dbt_vars(settings.small_cell_threshold, has_code_table=iucr_file is not None)
    loaded = load_code_tables_task(url, settings.data_dir, iucr_file, iucr_column)
    log.info("code tables loaded: %s", ", ".join(f"{k} {v:,} rows" for k, v in loaded.items()))

    # Stale sources are reported, not fatal: the models still build from what was loaded.
    run_dbt(dbt_args(["source", "freshness"], paths, variables), target, paths, node_tasks)
    freshness = read_freshness_task(paths)
    for r in freshness:
        if r["status"] != "pass":
            log.warning("source %s is stale (%s): newest row loaded %s h ago%s", r["name"], r["status"],
                        r["age_hours"], f" ({r['message']})" if r["message"] else "")
    if freshness:
        create_table_artifact(key="sources-freshness", table=freshness,
                              description="dbt source freshness: newest loaded_at per source against its feed's cadence")

    rows: list[dict] = []
    try:
        error = run_dbt(dbt_args(["build"], paths, variables, selection_args(select or (), exclude or (), selector)),
                        target, paths, node_tasks)
        rows, samples = read_results_task(url, paths)
    finally:
        # Rebuilt models are new objects: re-open the analyst allowlist (PostgreSQL; no-op on DuckDB).
        apply_grants_task(url, failed_relations(rows), loader_role, analyst_role)
    create_table_artifact(key="models-build", table=summary_table(rows),
                          description="dbt build of the warehouse models: every model and test (run_results.json)")
    docs = dbt_docs_task(url, paths, variables)
    if docs:
        create_link_artifact(key="dbt-docs", link=docs.as_uri(), link_text="dbt docs (models, lineage, tests)")
    problem = failure_line(rows, samples) or (f"dbt build stopped: {error}" if error else None)
    analyst_path = settings.work_dir / "analyst.duckdb"
    tables = publish_analyst_file_task(url, analyst_path, publish=not problem)
    if tables:
        log.info("analyst file %s: %d tables", analyst_path, len(tables))
    if problem:
        raise ModelBuildError("warehouse models (dbt)", problem,
                              f"Fix the model or data; details in {paths.build_results} and {paths.logs / 'dbt.log'}")
    return rows


def build(settings: Settings, select: list[str] | None = None, exclude: list[str] | None = None,
          selector: str | None = None) -> list[dict]:
    """Run the models flow (``pulse models build [--select ...] [--exclude ...] [--selector NAME]``)."""
    return models_flow(settings=settings, select=select, exclude=exclude, selector=selector)

"""The dbt project in ``warehouse/`` as the pipeline calls it: folders, the profile's environment, vars, CLI args.

dbt reads its connection only from ``profiles.yml``, and ``profiles.yml`` reads it only from the
environment (``env_var``), so the contract between the pipeline and dbt is a set of variables,
all derived here from the warehouse URL:

===============================  ======================================================
``PULSE_DBT_TARGET``             ``duckdb`` or ``postgres`` (the URL's backend)
``PULSE_DBT_DUCKDB_PATH``        the DuckDB file
``PULSE_DBT_DUCKDB_MEMORY_LIMIT`` DuckDB's memory cap (``?memory_limit=`` in the URL, else 384MB)
``PULSE_DBT_DUCKDB_USER_AGENT``  duckdb_engine's user agent (see ``duckdb_config``)
``PULSE_DBT_PG_HOST`` / ``_PORT`` / ``_USER`` / ``_DBNAME`` / ``_SCHEMA``  PostgreSQL
``DBT_ENV_SECRET_PULSE_PG_PASSWORD``  the password (dbt scrubs ``DBT_ENV_SECRET_*`` from logs)
===============================  ======================================================

Vars (``--vars``): ``small_cell_threshold`` (Settings, i.e. ``PULSE_SMALL_CELL_THRESHOLD``),
``opioid_substance_codes`` and ``criminal_justice_referral`` (``schemas/teds_codes.py``).
Artifacts go under the work dir: ``<work_dir>/dbt/target`` (manifest, run_results.json, compiled
SQL), ``<work_dir>/dbt/logs`` and the static docs site ``<work_dir>/dbt/docs/index.html``.
"""
from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import make_url

from schemas.errors import ConfigError
from schemas.teds_codes import CRIMINAL_JUSTICE_REFERRAL, OPIOID_SUBSTANCE_CODES
from warehouse.resource import DUCKDB_MEMORY_LIMIT

PROJECT_DIR = Path(__file__).resolve().parent
MODELS_DIR = PROJECT_DIR / "models"
# Model folders whose models analysts never read (staging passes person-level rows through;
# intermediate models are unsuppressed). Everything in marts/ is analyst-facing.
RESTRICTED_FOLDERS = ("staging", "intermediate")
ANALYST_FOLDERS = ("marts",)
DEFAULT_PG_SCHEMA = "public"


@dataclass(frozen=True)
class DbtPaths:
    """Where one work dir keeps dbt's artifacts, logs and the static docs site."""

    root: Path

    @property
    def target(self) -> Path:
        return self.root / "target"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def docs(self) -> Path:
        return self.root / "docs" / "index.html"

    @property
    def run_results(self) -> Path:
        return self.target / "run_results.json"

    @property
    def build_results(self) -> Path:
        """The last ``dbt build``'s run_results.json, kept (``docs generate`` rewrites run_results.json)."""
        return self.target / "build_run_results.json"

    @property
    def manifest(self) -> Path:
        return self.target / "manifest.json"


def dbt_paths(work_dir: Path) -> DbtPaths:
    return DbtPaths(Path(work_dir).resolve() / "dbt")


@dataclass(frozen=True)
class DbtTarget:
    """The profile target for one warehouse URL: its environment, and the DuckDB file and config when there is one."""

    name: str
    env: dict[str, str] = field(repr=False)
    duckdb_path: Path | None = None
    duckdb_config: dict[str, str] | None = None


def duckdb_config(memory_limit: str = DUCKDB_MEMORY_LIMIT) -> dict[str, str]:
    """Return the DuckDB connection config the pipeline's SQLAlchemy engines use (warehouse/resource.py).

    NOTE: DuckDB keeps one database instance per file and process and refuses a second
    connection configured differently ("Can't open a connection to same database file with a
    different configuration"). duckdb_engine 0.17 connects with ``memory_limit`` plus its own
    ``custom_user_agent``; dbt (and the analyst-file copy) connect with exactly that, so they
    share the instance with any engine the flow still holds open.
    """
    import duckdb_engine
    import sqlalchemy

    return {"memory_limit": memory_limit,
            "custom_user_agent": f"duckdb_engine/{duckdb_engine.__version__}(sqlalchemy/{sqlalchemy.__version__})"}


def dbt_target(url: str) -> DbtTarget:
    """Return the dbt target (``duckdb`` | ``postgres``) and the profile's environment for a warehouse URL."""
    try:
        parsed = make_url(url)
    except Exception:
        raise ConfigError("PULSE_WAREHOUSE_URL", "not a valid SQLAlchemy URL",
                          "Use duckdb:///path/file.duckdb or postgresql+psycopg://user@host/db") from None
    backend = parsed.get_backend_name()
    if backend == "duckdb":
        if not parsed.database or parsed.database == ":memory:":
            raise ConfigError("PULSE_WAREHOUSE_URL", "dbt needs a DuckDB file, not an in-memory database",
                              "Use duckdb:///path/file.duckdb")
        path = Path(parsed.database).resolve()
        config = duckdb_config(str(parsed.query.get("memory_limit") or DUCKDB_MEMORY_LIMIT))
        return DbtTarget("duckdb", {"PULSE_DBT_TARGET": "duckdb", "PULSE_DBT_DUCKDB_PATH": str(path),
                                    "PULSE_DBT_DUCKDB_MEMORY_LIMIT": config["memory_limit"],
                                    "PULSE_DBT_DUCKDB_USER_AGENT": config["custom_user_agent"]}, path, config)
    if backend == "postgresql":
        # NOTE: the pipeline's tables live in the connection's default schema; a URL carries no
        # schema of its own (psycopg rejects unknown query keys), so dbt builds in public too.
        env = {"PULSE_DBT_TARGET": "postgres", "PULSE_DBT_PG_HOST": parsed.host or "127.0.0.1",
               "PULSE_DBT_PG_PORT": str(parsed.port or 5432), "PULSE_DBT_PG_USER": parsed.username or "postgres",
               "PULSE_DBT_PG_DBNAME": parsed.database or "postgres", "PULSE_DBT_PG_SCHEMA": DEFAULT_PG_SCHEMA,
               "DBT_ENV_SECRET_PULSE_PG_PASSWORD": parsed.password or ""}
        return DbtTarget("postgres", env)
    raise ConfigError("PULSE_WAREHOUSE_URL", f"backend '{backend}' has no dbt target",
                      "Use DuckDB (duckdb:///…) or PostgreSQL (postgresql+psycopg://…)")


def dbt_vars(small_cell_threshold: int, has_code_table: bool = True) -> dict[str, object]:
    """Return the project vars for ``--vars``; the threshold must be a whole number >= 1.

    ``has_code_table`` is False for a city whose config names no offense code table: the
    relationships test fct_incidents.iucr -> dim_offense_types is then disabled (the table is empty).
    """
    value = small_cell_threshold
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError("PULSE_SMALL_CELL_THRESHOLD", f"{value!r} is not a whole number >= 1",
                          "Set small_cell_threshold to a whole number such as 10")
    return {"small_cell_threshold": value, "opioid_substance_codes": [int(c) for c in OPIOID_SUBSTANCE_CODES],
            "criminal_justice_referral": int(CRIMINAL_JUSTICE_REFERRAL), "has_code_table": bool(has_code_table)}


def selection_args(select: Sequence[str] = (), exclude: Sequence[str] = (), selector: str | None = None) -> list[str]:
    """Return dbt's node selection flags (passed through as given: dbt reports a bad selector itself)."""
    args: list[str] = []
    if select:
        args += ["--select", *select]
    if exclude:
        args += ["--exclude", *exclude]
    if selector:
        args += ["--selector", selector]
    return args


def dbt_args(command: Sequence[str], paths: DbtPaths, variables: dict[str, object] | None = None,
             extra: Sequence[str] = ()) -> list[str]:
    """Return the full argument list for one dbt command on this project (e.g. ``["build"]``)."""
    args = [*command, "--project-dir", str(PROJECT_DIR), "--profiles-dir", str(PROJECT_DIR),
            "--target-path", str(paths.target), "--log-path", str(paths.logs)]
    if variables is not None:
        args += ["--vars", json.dumps(variables)]
    return args + list(extra)


@contextmanager
def dbt_environment(target: DbtTarget) -> Iterator[None]:
    """Set the profile's variables for the dbt calls inside the block, then restore the environment.

    NOTE: dbt runs in this process (so Prefect sees each node) and reads ``env_var`` from
    ``os.environ``; two dbt runs against different warehouses must not overlap in one process.
    """
    saved = {k: os.environ.get(k) for k in target.env}
    os.environ.update(target.env)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def release_dbt_connections() -> None:
    """Close every warehouse connection dbt keeps open in this process after a command.

    NOTE: dbt-duckdb 1.11.1 keeps its DuckDB instance open after an invocation (class attribute
    ``DuckDBConnectionManager._ENV``, handle count 0 but ``conn`` still open), and DuckDB refuses
    any other connection to the same file with a different configuration ("Can't open a
    connection to same database file with a different configuration"), which is every
    SQLAlchemy engine of the pipeline. ``cleanup_connections`` alone does not close it.
    """
    from dbt.adapters.factory import cleanup_connections

    cleanup_connections()
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:  # dbt-duckdb not installed: nothing held open
        return
    env = DuckDBConnectionManager._ENV
    if env is not None:
        env.close()
    DuckDBConnectionManager.close_all_connections()


def model_names(folders: Sequence[str]) -> list[str]:
    """Return the model names (SQL file stems) under the given ``models/`` folders, sorted."""
    return sorted(p.stem for folder in folders for p in (MODELS_DIR / folder).rglob("*.sql"))


def restricted_models() -> list[str]:
    """Return the models analysts must not read: every model in ``staging/`` and ``intermediate/``."""
    return model_names(RESTRICTED_FOLDERS)


def analyst_models() -> list[str]:
    """Return the analyst-facing models: every model in ``marts/``."""
    return model_names(ANALYST_FOLDERS)

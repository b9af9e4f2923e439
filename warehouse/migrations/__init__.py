"""Versioned schema changes (Alembic), configured in code: no ``alembic.ini`` is needed.

How the code's table definitions and the revisions relate:

- ``warehouse/tables.py`` is the *head* schema:
  what the loader and the models read and write.
- The baseline revision creates every table the code defines that is missing (and PostGIS on
  PostgreSQL): it is ``init_warehouse``. On a database created earlier by ``init_warehouse``
  (no ``alembic_version`` table yet) it changes nothing, so ``upgrade`` adopts such a database.
- Every later revision changes an existing database and must be idempotent (``if_not_exists``),
  because a fresh database already gets the current tables from the baseline before it runs.

So ``upgrade(engine)`` is the one way to create or bring a warehouse up to date; ``init_warehouse``
alone creates missing tables but applies no revision (``pulse warehouse upgrade`` catches up).
No reflection anywhere (duckdb_engine cannot reflect on SQLAlchemy 2.1).
"""
from __future__ import annotations

import re
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.util import CommandError
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from schemas.errors import ConfigError
from warehouse.resource import Warehouse

MIGRATIONS_DIR = Path(__file__).resolve().parent
BASELINE = "0001_baseline"
# Any constant: serializes concurrent upgrades of one PostgreSQL database.
_ADVISORY_LOCK = 0x70756C7365


def register_duckdb_impl() -> None:
    """Teach Alembic the ``duckdb`` dialect (duckdb_engine ships no Alembic implementation)."""
    from alembic.ddl import impl
    from alembic.ddl.postgresql import PostgresqlImpl

    if "duckdb" not in impl._impls:
        # Defining the subclass registers it (Alembic's ImplMeta); DuckDB's DDL is PostgreSQL-like.
        type("DuckDBImpl", (PostgresqlImpl,), {"__dialect__": "duckdb", "transactional_ddl": True})


def alembic_config(connection=None, directory: Path = MIGRATIONS_DIR) -> Config:
    """Return an Alembic config for ``directory`` (env + versions) that runs on ``connection`` when given."""
    cfg = Config()
    cfg.set_main_option("script_location", str(directory).replace("%", "%%"))
    cfg.set_main_option("file_template", "%%(rev)s")
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def script_directory(directory: Path = MIGRATIONS_DIR) -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config(directory=directory))


def head_revision(directory: Path = MIGRATIONS_DIR) -> str:
    """Return the newest revision id (there is exactly one head)."""
    return script_directory(directory).get_current_head()


def current_revision(wh: Warehouse) -> str | None:
    """Return the revision the warehouse is at (None: never upgraded, or created by ``init_warehouse``)."""
    register_duckdb_impl()
    with wh.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(wh: Warehouse, revision: str = "head") -> tuple[str | None, str | None]:
    """Create or upgrade the warehouse to ``revision`` in one transaction; return (before, after).

    Running it again at the same revision changes nothing.
    """
    register_duckdb_impl()
    with wh.begin() as conn:
        if not wh.is_duckdb:
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ADVISORY_LOCK})
        before = MigrationContext.configure(conn).get_current_revision()
        try:
            command.upgrade(alembic_config(conn), revision)
        except CommandError as exc:  # e.g. the database is at a revision this code does not know
            raise ConfigError(f"warehouse at revision {before}", str(exc).splitlines()[0],
                              "Upgrade the code to the version that wrote this revision, or pick a known one") from None
        after = MigrationContext.configure(conn).get_current_revision()
    return before, after


def missing_columns(conn, metadata) -> list[tuple[str, str]]:
    """Return (table, column) for every column the code defines on an existing table the database lacks."""
    rows = conn.execute(text(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_catalog = current_database()")).all()
    present: dict[str, set[str]] = {}
    for table, column in rows:
        present.setdefault(table, set()).add(column)
    return [(name, c.name) for name, table in sorted(metadata.tables.items()) if name in present
            for c in table.columns if c.name not in present[name]]


def schema_drift(wh: Warehouse) -> list[str]:
    """Return one line per table or column the code defines but the database lacks (empty = in sync).

    Reads ``information_schema`` directly instead of reflecting. Extra database columns are fine.
    """
    from warehouse.tables import metadata

    with wh.connect() as conn:
        rows = conn.execute(text(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_catalog = current_database()")).all()
    present: dict[str, set[str]] = {}
    for table, column in rows:
        present.setdefault(table, set()).add(column)
    drift = []
    for name, table in sorted(metadata.tables.items()):
        if name not in present:
            drift.append(f"table {name} is missing")
            continue
        drift += [f"column {name}.{c.name} is missing" for c in table.columns if c.name not in present[name]]
    return drift


def new_revision(message: str, directory: Path = MIGRATIONS_DIR) -> Path:
    """Write an empty revision file after the current head; return its path (for developers).

    The id is ``<4-digit number>_<slug>`` (at most 32 characters, Alembic's version column).
    """
    slug = re.sub(r"[^a-z0-9]+", "_", message.lower()).strip("_")[:24].rstrip("_") or "change"
    head = head_revision(directory)
    number = int(head.split("_", 1)[0]) + 1 if head else 1
    script = command.revision(alembic_config(directory=directory), message=message, rev_id=f"{number:04d}_{slug}")
    return Path(script.path)

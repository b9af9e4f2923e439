"""The embedded default's access control: a private warehouse file and a published analyst-only file.

DuckDB has no roles: whoever can read ``data/pulse.duckdb`` reads person-level rows. So the
warehouse file is made private (mode 0600, like the pseudonym key) and, after every successful
build, ``publish_analyst_file`` writes ``data/analyst.duckdb`` holding only the tables the
PostgreSQL analyst role may read (``warehouse.roles.split_grants``: marts, dimensions, code
tables, public facts, trend results). It is written beside the target and swapped in with one
rename, so an analyst never opens a half-written file.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

import duckdb

from warehouse.dbt_project import restricted_models
from warehouse.roles import split_grants

PRIVATE_MODE = 0o600
PUBLISHED_MODE = 0o644


def make_private(path: Path) -> list[Path]:
    """Set the DuckDB file (and its write-ahead log) to owner-only; return the files changed."""
    changed = []
    for p in (Path(path), Path(f"{path}.wal")):
        if p.exists():
            os.chmod(p, PRIVATE_MODE)
            changed.append(p)
    return changed


def file_mode(path: Path) -> int:
    return stat.S_IMODE(Path(path).stat().st_mode)


def warehouse_objects(con: duckdb.DuckDBPyConnection, catalog: str) -> list[str]:
    """Return the tables and views of ``catalog``'s main schema."""
    rows = con.execute("SELECT table_name FROM information_schema.tables WHERE table_catalog = ? "
                       "AND table_schema = 'main' ORDER BY table_name", [catalog]).fetchall()
    return [r[0] for r in rows]


def analyst_tables(names: list[str]) -> list[str]:
    """Return the names among ``names`` that the analyst role may read (the PostgreSQL policy)."""
    return split_grants(names, restricted_models())[0]


def publish_analyst_file(warehouse_path: Path, analyst_path: Path, config: dict | None = None) -> list[str]:
    """Write ``analyst_path`` with a copy of every analyst-readable table of the warehouse file; return their names.

    ``config`` is the warehouse's DuckDB connection config (``warehouse.dbt_project.duckdb_config``),
    so the copy shares the database instance of any engine this process holds on the file.
    """
    warehouse_path, analyst_path = Path(warehouse_path).resolve(), Path(analyst_path).resolve()
    partial = analyst_path.with_name(analyst_path.name + ".partial")
    for leftover in (partial, Path(f"{partial}.wal")):
        leftover.unlink(missing_ok=True)
    con = duckdb.connect(str(warehouse_path), config=dict(config or {}))
    catalog = con.execute("SELECT current_database()").fetchone()[0]
    try:
        con.execute("ATTACH ? AS analyst_copy", [str(partial)])
        tables = analyst_tables(warehouse_objects(con, catalog))
        for name in tables:
            quoted = '"' + name.replace('"', '""') + '"'  # a name from the warehouse's own catalog
            con.execute(f"CREATE TABLE analyst_copy.main.{quoted} AS SELECT * FROM main.{quoted}")
        con.execute("DETACH analyst_copy")
    finally:
        con.close()
    os.chmod(partial, PUBLISHED_MODE)
    os.replace(partial, analyst_path)
    return tables


def analyst_file_tables(analyst_path: Path) -> dict[str, list[str]]:
    """Return {table: column names} of a published analyst file (opened read-only)."""
    con = duckdb.connect(str(analyst_path), read_only=True)
    try:
        rows = con.execute("SELECT table_name, column_name FROM information_schema.columns "
                           "WHERE table_schema = 'main' ORDER BY table_name, ordinal_position").fetchall()
    finally:
        con.close()
    out: dict[str, list[str]] = {}
    for table, column in rows:
        out.setdefault(table, []).append(column)
    return out

"""Schema migrations (Alembic) on DuckDB and PostgreSQL, and the Prefect server on PostgreSQL."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from warehouse.resource import Warehouse, is_duckdb
from warehouse.load import init_warehouse
from warehouse.tables import metadata
from warehouse.migrations import (BASELINE, MIGRATIONS_DIR, alembic_config, current_revision, head_revision,
                                  new_revision, schema_drift, script_directory, upgrade)

NOW = datetime(2026, 1, 1)
LINEAGE = {"source": "hand", "batch_id": "hand-1", "loaded_at": NOW}
INCIDENT_INDEXES = {"ix_fct_incidents_occurred_at", "ix_fct_incidents_neighborhood_id"}
COUNTED = ("fct_incidents", "fct_treatment_admissions", "load_audit", "dim_neighborhoods")


def insert_rows(engine) -> None:
    incident = {"offense_category": "possession", "is_drug_offense": True, "neighborhood_id": "25",
                "geocode_method": "latlon", "geocode_precision": "point", **LINEAGE}
    rows = {
        "fct_incidents": [{"incident_id": f"I{i}", "occurred_at": datetime(2017, 1, 1 + i), **incident} for i in range(5)],
        "fct_treatment_admissions": [{"admission_id": "A1", "is_synthetic": True, **LINEAGE}],
        "load_audit": [{"audit_id": "a1", "batch_id": "hand-1", "source": "hand", "entity": "incidents",
                        "status": "loaded", "rows_read": 5, "rows_loaded": 5, "rows_quarantined": 0,
                        "message": "ok", "started_at": NOW, "finished_at": NOW}],
        "dim_neighborhoods": [{"neighborhood_id": "25", "name": "AUSTIN"}],
    }
    with engine.begin() as conn:
        for table, records in rows.items():
            conn.execute(metadata.tables[table].insert(), records)


def snapshot(engine) -> dict[str, list]:
    """Every row of the counted tables, sorted (to prove no row was lost or changed)."""
    with engine.connect() as conn:
        return {t: sorted(tuple(r) for r in conn.execute(metadata.tables[t].select()).all()) for t in COUNTED}


def expected_indexes(engine) -> set[str]:
    """Revision 0002 indexes incidents on PostgreSQL only (DuckDB's zone maps do the job)."""
    return set() if is_duckdb(engine) else INCIDENT_INDEXES


def incident_indexes(engine) -> set[str]:
    sql = ("SELECT index_name FROM duckdb_indexes() WHERE table_name = 'fct_incidents'" if is_duckdb(engine) else
           "SELECT indexname FROM pg_indexes WHERE tablename = 'fct_incidents' AND schemaname = current_schema()")
    with engine.connect() as conn:
        return set(conn.execute(sa.text(sql)).scalars()) & INCIDENT_INDEXES


def test_upgrade_from_the_baseline_keeps_every_row_and_is_idempotent(warehouse_url):
    engine = Warehouse(warehouse_url)
    try:
        assert upgrade(engine, BASELINE) == (None, BASELINE)
        insert_rows(engine)
        before = snapshot(engine)
        assert len(before["fct_incidents"]) == 5 and incident_indexes(engine) == set()
        head = head_revision()
        assert upgrade(engine) == (BASELINE, head)
        assert snapshot(engine) == before
        assert incident_indexes(engine) == expected_indexes(engine)
        assert upgrade(engine) == (head, head)  # a second run changes nothing
        assert snapshot(engine) == before and current_revision(engine) == head
        assert schema_drift(engine) == []
    finally:
        engine.close()


def test_upgrade_adopts_a_warehouse_created_by_init_warehouse(warehouse_url):
    engine = Warehouse(warehouse_url)
    try:
        init_warehouse(engine)
        insert_rows(engine)
        before = snapshot(engine)
        assert current_revision(engine) is None
        assert upgrade(engine) == (None, head_revision())
        assert snapshot(engine) == before and incident_indexes(engine) == expected_indexes(engine)
        init_warehouse(engine)  # and init_warehouse after upgrade is harmless
        assert current_revision(engine) == head_revision() and snapshot(engine) == before
    finally:
        engine.close()


def test_schema_drift_names_what_the_database_lacks(duckdb_url):
    engine = Warehouse(duckdb_url)
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE source_watermarks"))
        conn.execute(sa.text("ALTER TABLE load_audit DROP COLUMN message"))
    assert schema_drift(engine) == ["column load_audit.message is missing", "table source_watermarks is missing"]
    engine.close()


def test_revisions_form_one_line_from_the_baseline():
    scripts = script_directory()
    revisions = list(scripts.walk_revisions())  # newest first
    assert scripts.get_heads() == [head_revision()]
    assert revisions[-1].revision == BASELINE and revisions[-1].down_revision is None
    for rev in revisions:
        assert Path(rev.path).stem == rev.revision, "file name = revision id"
        assert rev.doc, f"{rev.revision} has no docstring"


@pytest.mark.postgres
def test_downgrade_removes_the_example_revision(postgres_url):
    from alembic import command

    engine = Warehouse(postgres_url)
    upgrade(engine)
    assert incident_indexes(engine) == INCIDENT_INDEXES
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), BASELINE)
    assert current_revision(engine) == BASELINE and incident_indexes(engine) == set()
    engine.close()


def test_new_revision_follows_the_head(tmp_path):
    copy = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    path = new_revision("Add load_audit.duration_seconds", directory=copy)
    assert path.name == "0006_add_load_audit_duration.py"
    text = path.read_text()
    assert "down_revision = '0005_outcome_feeds'" in text and "idempotent" in text
    assert head_revision(copy) == "0006_add_load_audit_duration"


# -- The Prefect server itself on PostgreSQL ------------------------------------------------

FLOW_SCRIPT = """
from prefect import flow

@flow(name="pg-smoke")
def smoke(x: int) -> int:
    return x + 1

assert smoke(41) == 42
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM the server's process group; it may ignore the first one, so signal again, then SIGKILL."""
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        if proc.poll() is not None:
            return
        os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue


@pytest.mark.slow
@pytest.mark.postgres
def test_prefect_server_runs_on_postgresql(postgres_url, tmp_path):
    db_url = sa.make_url(postgres_url)
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(tmp_path / "prefect"), PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1",
               PREFECT_UI_ENABLED="false",
               PREFECT_SERVER_DATABASE_CONNECTION_URL=db_url.set(drivername="postgresql+asyncpg")
               .render_as_string(hide_password=False))
    prefect = Path(sys.executable).with_name("prefect")
    log = open(tmp_path / "server.log", "wb")
    server = subprocess.Popen([str(prefect), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                              env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            assert server.poll() is None, (tmp_path / "server.log").read_text()[-2000:]
            try:
                if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server not healthy: " + (tmp_path / "server.log").read_text()[-2000:]
            time.sleep(0.5)
        client_env = {**env, "PREFECT_API_URL": api}
        client_env.pop("PREFECT_SERVER_DATABASE_CONNECTION_URL")
        run = subprocess.run([sys.executable, "-c", FLOW_SCRIPT], env=client_env, capture_output=True, text=True,
                             timeout=120)
        assert run.returncode == 0, run.stderr[-2000:]
        runs = httpx.post(f"{api}/flow_runs/filter", json={}, timeout=10).json()
        assert [(r["state_type"]) for r in runs] == ["COMPLETED"]
        # The run is in PostgreSQL, not in a SQLite file.
        engine = Warehouse(postgres_url)
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM flow_run WHERE state_type = 'COMPLETED'")).scalar_one() == 1
        engine.close()
        assert not list((tmp_path / "prefect").glob("*.db"))
    finally:
        _stop(server)
        log.close()

"""Crash safety on PostgreSQL: the merge transaction killed at its failpoints, and the loader's
connection terminated mid-transaction (what a server restart looks like to the client).

Helpers and the zygote that forks the runs are in tests/test_crash_safety.py.
"""
from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa

from tests.test_crash_safety import (  # noqa: F401  (fixtures used by name)
    api_crash_then_recover, audit_matches_rows, crash_then_recover, inputs, pg_admin, runner, snapshot, warehouses)

pytestmark = pytest.mark.postgres

# The first and last statements of the transaction, one in the middle, and after COMMIT (the
# DuckDB module covers every failpoint; the ones before the transaction never touch the warehouse).
PG_FAILPOINTS = ["load.tx_staged", "load.tx_inserted", "load.tx_before_commit", "load.committed"]


@pytest.mark.parametrize("failpoint", PG_FAILPOINTS)
def test_postgres_crash_in_the_load(warehouses, pg_admin, failpoint):
    crash_then_recover(warehouses, "postgres", failpoint, pg_admin)


def test_api_crash_after_a_page_landed_keeps_the_watermark(runner, data_dir, tmp_path, postgres_url):
    api_crash_then_recover(runner, data_dir, tmp_path, postgres_url)


def test_postgres_connection_lost_mid_transaction(runner, inputs, postgres_url, tmp_path):
    """The loader's backend is terminated while it waits inside the merge transaction."""
    work = tmp_path / "work"
    sig, out = runner.run(tmp_path, work, postgres_url, files=[str(inputs[0])])
    assert sig is None and out["ok"], out
    before = snapshot(postgres_url)

    locker = sa.create_engine(postgres_url)
    killer = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    db = sa.make_url(postgres_url).database
    with locker.connect() as lock_conn:
        # Holding this lock stops the merge at its quarantine step: rows are already inserted into
        # fct_incidents inside the open transaction when the connection dies.
        lock_conn.execute(sa.text("LOCK TABLE quarantine_incidents IN ACCESS EXCLUSIVE MODE"))
        outcome = {}
        t = threading.Thread(target=lambda: outcome.update(
            zip(("sig", "out"), runner.run(tmp_path, work, postgres_url, files=[str(inputs[1])]))))
        t.start()
        deadline = time.monotonic() + 90
        terminated = False
        with killer.connect() as kc:
            while time.monotonic() < deadline and not terminated:
                pids = kc.execute(sa.text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = :db AND wait_event_type = 'Lock' "
                    "AND state = 'active' AND pid <> pg_backend_pid()"), {"db": db}).scalars().all()
                for pid in pids:
                    terminated = kc.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar()
                time.sleep(0.1)
        lock_conn.rollback()
    t.join(timeout=120)
    locker.dispose()
    killer.dispose()
    assert terminated, "the loader never blocked on the lock"
    assert outcome["sig"] is None and not outcome["out"]["ok"]
    message = outcome["out"]["error"].strip()
    assert "\n" not in message and "Traceback" not in message
    assert "terminating connection" in message or "connection" in message.lower(), message
    after = snapshot(postgres_url)
    # Nothing of the batch is in the warehouse, but the failed attempt is audited (on a fresh connection).
    failed = [r for r in after["load_audit"] if r not in before["load_audit"]]
    assert {**after, "load_audit": before["load_audit"]} == before
    assert len(failed) == 1 and failed[0][4] == "failed" and failed[0][6] == "0", failed

    sig, out = runner.run(tmp_path, work, postgres_url, files=[str(inputs[1])])
    assert sig is None and out["ok"] and out["summaries"][0]["status"] == "loaded", out
    state = snapshot(postgres_url)
    assert len(state["fct_incidents"]) == len({r[0] for r in state["fct_incidents"]}) == 40 + 40 - 3
    assert len({r[1] for r in state["quarantine_incidents"]}) == 3
    audit_matches_rows(postgres_url)

"""The ``load-<source>`` concurrency slot: a busy slot is one clear line, a killed holder frees it soon."""
from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from flows.feed_runs import LOAD_LEASE_SECONDS, load_slot
from schemas.errors import PulseError
from tests.support.prefect_server import prefect_server

REPO = Path(__file__).resolve().parents[2]

WAITER = """
import sys, time
from flows.feed_runs import load_slot
started = time.monotonic()
with load_slot(sys.argv[1], 240):
    print(time.monotonic() - started)
"""

HOLDER = """
import sys, time
from flows.feed_runs import load_slot
with load_slot(sys.argv[1], 30):
    print("held", flush=True)
    time.sleep(600)
"""


def test_a_busy_slot_is_one_line_naming_it_and_how_to_free_it(prefect_harness):
    held, release = threading.Event(), threading.Event()

    def hold():
        with load_slot("slot_test_busy", 30):
            held.set()
            release.wait(60)

    t = threading.Thread(target=hold)
    t.start()
    try:
        assert held.wait(60)
        started = time.monotonic()
        with pytest.raises(PulseError) as err:
            with load_slot("slot_test_busy", 2):
                pass
        assert time.monotonic() - started < 30
        line = str(err.value)
        assert "\n" not in line and "load-slot_test_busy" in line and "prefect gcl update load-slot_test_busy" in line
    finally:
        release.set()
        t.join(60)


@pytest.mark.slow
def test_a_run_killed_while_holding_the_slot_frees_it_within_the_short_lease(tmp_path, data_dir):
    # A real server: lease expiry is one of its services (an ephemeral test server does not run it).
    with prefect_server(tmp_path, data_dir) as server:
        env = {**server.env, "PYTHONPATH": str(REPO)}
        child = subprocess.Popen([sys.executable, "-c", HOLDER, "slot_test_killed"], cwd=REPO, env=env,
                                 stdout=subprocess.PIPE, text=True)
        try:
            assert child.stdout.readline().strip() == "held"
        finally:
            child.send_signal(signal.SIGKILL)  # no finally blocks, no release: like the OOM killer
            child.wait(30)
        waiter = subprocess.run([sys.executable, "-c", WAITER, "slot_test_killed"], cwd=REPO, env=env,
                                capture_output=True, text=True, timeout=300)
        assert waiter.returncode == 0, waiter.stderr[-2000:]
        waited = float(waiter.stdout.strip().splitlines()[-1])
    # Prefect's default lease is 300 s; ours expires after LOAD_LEASE_SECONDS plus the repossessor loop.
    assert waited < LOAD_LEASE_SECONDS + 60, f"the slot came free only after {waited:.0f} s"


def test_the_police_flow_waits_for_the_slot_then_fails_in_one_line(prefect_harness, settings_factory, duckdb_url,
                                                                    data_dir, tmp_path):
    from flows.police_incidents import police_incidents_flow
    from tests.police_files import real_rows, write_csv

    path = write_csv(real_rows(data_dir, 10, "22"), tmp_path / "ten.csv")
    settings = settings_factory(duckdb_url, load_slot_wait_seconds=2)
    held, release = threading.Event(), threading.Event()

    def hold():  # another run of the same source is merging
        with load_slot("police_chicago", 30):
            held.set()
            release.wait(120)

    t = threading.Thread(target=hold)
    t.start()
    try:
        assert held.wait(60)
        with pytest.raises(PulseError) as err:
            police_incidents_flow(settings=settings, files=[str(path)])
    finally:
        release.set()
        t.join(60)
    line = str(err.value)
    assert "\n" not in line and "load-police_chicago" in line and "still taken after 2 s" in line, line
    assert police_incidents_flow(settings=settings, files=[str(path)])[0]["status"] == "loaded"  # slot free again

"""``pulse`` without a configured Prefect server: its private server never outlives it."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from flows.cli.entry import needs_api
from tests.police_files import real_rows, write_csv

REPO = Path(__file__).resolve().parents[2]
PULSE = Path(sys.executable).parent / "pulse"
CLI = [str(PULSE)]


@pytest.mark.parametrize("argv,expected", [
    (["run"], True), (["ingest", "police", "--file", "x.csv"], True), (["models", "build"], True),
    (["--help"], False), (["run", "--help"], False), (["config", "check"], False), (["demo-data", "programs"], False),
    ([], False),
], ids=lambda v: " ".join(v) if isinstance(v, list) else str(v))
def test_only_commands_that_run_flows_start_a_server(argv, expected, monkeypatch):
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    assert needs_api(argv) is expected


@pytest.mark.slow
def test_a_killed_run_leaves_no_prefect_server_behind(tmp_path, data_dir):
    csv = write_csv(real_rows(data_dir, 30), tmp_path / "jan.csv")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    env.update(PULSE_DATA_DIR=str(data_dir), PULSE_WORK_DIR=str(tmp_path / "work"), PREFECT_HOME=str(tmp_path / "ph"),
               PULSE_FAILPOINT="load.before_merge")  # the run SIGKILLs itself mid-load, like the OOM killer
    proc = subprocess.Popen([*CLI, "ingest", "police", "--file", str(csv)], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seen: set[int] = set()
    deadline = time.monotonic() + 240
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            seen |= {c.pid for c in psutil.Process(proc.pid).children(recursive=True)}
        except psutil.NoSuchProcess:
            break
        time.sleep(0.2)
    proc.wait(30)
    assert proc.returncode == -9, f"the run was not killed at the failpoint (exit {proc.returncode})"
    assert seen, "the run started no server process"
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"
                                              for p in seen):
        time.sleep(0.2)
    alive = [p for p in seen if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"]
    assert not alive, f"processes of the killed run still running: {alive}"

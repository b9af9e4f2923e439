"""A real ``prefect server start`` for tests that need the server's services (UI, schedules, lease expiry)."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Server:
    url: str
    api: str
    env: dict[str, str]
    home: Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(proc: subprocess.Popen, grace: float = 15) -> None:
    """Stop a process group: SIGTERM, a second signal after ``grace`` s (a worker ignores the first), then SIGKILL."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGINT, 5), (signal.SIGKILL, 5)):
        if proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait)
        except subprocess.TimeoutExpired:
            continue


@contextmanager
def prefect_server(home: Path, data_dir: Path, timeout: float = 120) -> Iterator[Server]:
    """Run a Prefect server (SQLite under ``home``) until the block ends; yields its URLs and a client env."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "PULSE_"))}
    env.update(PREFECT_HOME=str(home), PREFECT_API_URL=f"{url}/api", PREFECT_UI_API_URL=f"{url}/api",
               PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1", GX_ANALYTICS_ENABLED="false",
               PULSE_DATA_DIR=str(data_dir), PULSE_WORK_DIR=str(home / "work"),
               PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    log = open(home / "server.log", "w")
    proc = subprocess.Popen([str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"prefect server exited ({proc.returncode}): "
                                   f"{(home / 'server.log').read_text()[-2000:]}")
            try:
                if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(1)
        else:
            raise RuntimeError(f"prefect server not healthy after {timeout} s: "
                               f"{(home / 'server.log').read_text()[-2000:]}")
        yield Server(url, f"{url}/api", env, home)
    finally:
        stop(proc)
        log.close()

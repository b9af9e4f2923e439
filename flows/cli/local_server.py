"""The Prefect API for one ``pulse`` command: the configured server, or a private one tied to this process.

With no ``PREFECT_API_URL`` Prefect starts a temporary server as a child process; if ``pulse`` is
killed (SIGKILL, the OOM killer) that child keeps serving as an orphan and the next run starts
another. ``pulse`` starts that server itself instead, the way Prefect does, but asks the kernel to
kill it when ``pulse`` dies (``PR_SET_PDEATHSIG``) and stops it at exit otherwise. It must run
before Prefect is imported: Prefect reads ``PREFECT_API_URL`` once, at import.
"""
from __future__ import annotations

import atexit
import ctypes
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

PR_SET_PDEATHSIG = 1
STARTUP_TIMEOUT_S = 90.0


def _die_with_parent() -> None:  # runs in the child between fork and exec
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_private_server(timeout: float = STARTUP_TIMEOUT_S) -> subprocess.Popen:
    """Start a Prefect API server that dies with this process; set ``PREFECT_API_URL`` to it; return it."""
    prefect_dir = Path(importlib.util.find_spec("prefect").origin).parent
    port = _free_port()
    env = {**os.environ, "PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--app-dir", str(prefect_dir.parent), "--factory",
         "prefect.server.api.server:create_app", "--host", "127.0.0.1", "--port", str(port), "--log-level", "error",
         "--lifespan", "on"], env=env, preexec_fn=_die_with_parent)
    atexit.register(_stop, proc)
    url = f"http://127.0.0.1:{port}/api"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"error: the local Prefect server exited with code {proc.returncode}. "
                             "Set PREFECT_API_URL to a running server (make server), or check ~/.prefect.")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                os.environ["PREFECT_API_URL"] = url
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"error: the local Prefect server did not answer within {timeout:.0f} s. "
                     "Set PREFECT_API_URL to a running server (make server).")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()

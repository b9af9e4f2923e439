"""What the last models -> trends -> report build was made from, so a rerun with nothing new skips it.

The fingerprint covers every input the build reads: the loads (every ``load_audit`` row of status
``loaded``: its id and finish time), the city config file, the small-cell
threshold and the code that turns loads into answers (the dbt project, the trend methods and the
report sections, hashed file by file). A feed batch skipped as "already loaded" writes no audit row,
so a rerun over the same files has the fingerprint of the last build; any new load, config edit or
code change gives a new one. The state lives beside the warehouse (``<work_dir>/state/build.json``)
and is written only after a build completed, so a failed build is retried by the next run.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import text

from warehouse.resource import Warehouse

REPO_ROOT = Path(__file__).resolve().parents[1]
# Code whose change changes the answers (relative to the repository root).
BUILD_CODE = ("warehouse/models", "warehouse/macros", "warehouse/dbt_project.yml", "tasks/trends",
              "tasks/report", "tasks/outcomes")


def _load_summary(wh: Warehouse) -> list:
    """Every loaded batch's audit id and finish time, hashed (hundreds of rows, one query)."""
    with wh.engine.connect() as conn:
        try:
            rows = conn.execute(text("select audit_id, finished_at from load_audit where status = 'loaded' "
                                     "order by audit_id")).all()
        except Exception:  # noqa: BLE001 - no audit table yet: nothing loaded, nothing to reuse
            return ["no load_audit"]
    digest = hashlib.sha256()
    for audit_id, finished in rows:
        digest.update(f"{audit_id}|{finished}\n".encode())
    return [len(rows), digest.hexdigest()]


def _hash_files(paths: Iterable[Path]) -> str:
    digest = hashlib.sha256()
    for root in paths:
        files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
        for path in files:
            if path.suffix in (".pyc",) or "__pycache__" in path.parts:
                continue
            digest.update(str(path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path).encode())
            digest.update(path.read_bytes() if path.exists() else b"-")
    return digest.hexdigest()


def build_fingerprint(wh: Warehouse, city_config: Path, small_cell_threshold: int,
                      code: tuple[str, ...] = BUILD_CODE) -> str:
    """Return a digest of everything the models, trends and report read (see the module docstring);
    ``code`` names the repository paths whose change forces a rebuild (default: the build's)."""
    parts = {"loads": _load_summary(wh), "city_config": _hash_files([Path(city_config)]),
             "small_cell_threshold": small_cell_threshold,
             "code": _hash_files(REPO_ROOT / p for p in code)}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def state_path(work_dir: Path, name: str = "build") -> Path:
    return Path(work_dir) / "state" / f"{name}.json"


def read_build_state(work_dir: Path, name: str = "build") -> dict | None:
    """Return the last completed build's state, or None when there is none (or it cannot be read)."""
    try:
        return json.loads(state_path(work_dir, name).read_text())
    except (OSError, ValueError):
        return None


def write_build_state(work_dir: Path, fingerprint: str, outputs: dict[str, str], name: str = "build") -> None:
    """Record a completed build: its fingerprint, when, and the files it wrote (report, analyst file)."""
    path = state_path(work_dir, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"fingerprint": fingerprint, "built_at": datetime.now(timezone.utc).isoformat(
        timespec="seconds"), "outputs": outputs}, indent=2))
    tmp.replace(path)


def unchanged_since(state: dict | None, fingerprint: str) -> str | None:
    """Return when the last build with this fingerprint ran if its outputs still exist, else None."""
    if not state or state.get("fingerprint") != fingerprint:
        return None
    if not all(Path(p).exists() for p in state.get("outputs", {}).values()):
        return None
    return state.get("built_at")

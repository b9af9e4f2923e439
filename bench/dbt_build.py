"""dbt build of the warehouse models on a real warehouse file: timings, and row counts against that file.

Copies the given DuckDB warehouse (default /work/baseline/pulse.duckdb, built from all the real
data by the pre-dbt runner) to a temp folder, then times on the copy:

- ``dbt build`` alone (dbt's own runner, no Prefect), and ``dbt source freshness``;
- the models flow with ``node_tasks=False`` and with ``node_tasks=True`` (every node a Prefect
  task, the default), phase by phase from the flow's log.

Then prints, for every model, the rows in the original file and in the rebuilt copy, and whether
their contents are identical (EXCEPT ALL both ways, column types compared).

Usage: .venv/bin/python bench/dbt_build.py [WAREHOUSE.duckdb] [--keep]
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def _models() -> list[str]:
    from warehouse.dbt_project import analyst_models, restricted_models

    return [*restricted_models(), *analyst_models()]


def timed_dbt(url: str, work: Path, *command: str) -> float:
    from flows.models import run_dbt
    from warehouse.dbt_project import dbt_args, dbt_paths, dbt_target, dbt_vars

    paths = dbt_paths(work)
    started = time.perf_counter()
    error = run_dbt(dbt_args(list(command), paths, dbt_vars(10)), dbt_target(url), paths, node_tasks=False)
    if error:
        print(f"dbt {' '.join(command)} FAILED: {error}")
    return time.perf_counter() - started


def timed_flow(url: str, work: Path, node_tasks: bool) -> float:
    from flows.models import models_flow
    from flows.settings import Settings

    settings = Settings(work_dir=work, warehouse_url=url)
    started = time.perf_counter()
    rows = models_flow(settings=settings, node_tasks=node_tasks)
    seconds = time.perf_counter() - started
    tests = sum(r["type"] == "test" for r in rows)
    print(f"models flow node_tasks={node_tasks}: {seconds:6.1f} s  ({len(rows)} nodes, {tests} tests, "
          f"statuses {sorted({r['status'] for r in rows})})")
    return seconds


def compare(original: Path, rebuilt: Path) -> None:
    import duckdb

    con = duckdb.connect(str(rebuilt), read_only=True)
    con.execute("ATTACH ? AS base (READ_ONLY)", [str(original)])
    catalog = con.execute("SELECT current_database()").fetchone()[0]
    identical = 0
    print(f"{'model':32s} {'original':>10s} {'dbt':>10s}  contents")
    for name in _models():
        new = con.execute(f'SELECT count(*) FROM main."{name}"').fetchone()[0]
        try:
            old = con.execute(f'SELECT count(*) FROM base.main."{name}"').fetchone()[0]
        except duckdb.Error:
            print(f"{name:32s} {'-':>10s} {new:>10,}  new model")
            continue
        cols = "SELECT column_name || ':' || data_type FROM information_schema.columns WHERE table_catalog = ? " \
               "AND table_name = ? ORDER BY ordinal_position"
        same_types = con.execute(cols, ["base", name]).fetchall() == con.execute(cols, [catalog, name]).fetchall()
        extra = con.execute(f'SELECT count(*) FROM (SELECT * FROM main."{name}" EXCEPT ALL '
                            f'SELECT * FROM base.main."{name}")').fetchone()[0]
        missing = con.execute(f'SELECT count(*) FROM (SELECT * FROM base.main."{name}" EXCEPT ALL '
                              f'SELECT * FROM main."{name}")').fetchone()[0]
        same = same_types and extra == 0 and missing == 0 and old == new
        identical += same
        print(f"{name:32s} {old:>10,} {new:>10,}  {'identical' if same else f'DIFFERENT (+{extra} -{missing})'}")
    print(f"identical: {identical} models")
    con.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("warehouse", nargs="?", default="/work/baseline/pulse.duckdb")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="prefect-bench-"))
    import flows  # noqa: F401  (offline defaults)

    tmp = Path(tempfile.mkdtemp(prefix="dbt-bench-"))
    try:
        copy = tmp / "pulse.duckdb"
        shutil.copy(args.warehouse, copy)
        url = f"duckdb:///{copy}"
        print(f"warehouse: {args.warehouse} (copied to {copy}); load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        timed_dbt(url, tmp / "work", "parse")
        print(f"dbt build (no Prefect):         {timed_dbt(url, tmp / 'work', 'build'):6.1f} s")
        print(f"dbt source freshness:           {timed_dbt(url, tmp / 'work', 'source', 'freshness'):6.1f} s")
        print(f"dbt docs generate --static:     {timed_dbt(url, tmp / 'work', 'docs', 'generate', '--static'):6.1f} s")
        timed_flow(url, tmp / "flow-plain", node_tasks=False)
        timed_flow(url, tmp / "flow-tasks", node_tasks=True)
        compare(Path(args.warehouse), copy)
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Scale benchmark: the full police flow on 1M, 3M and 10M incident rows built from the real data.

Inputs are the four real Chicago year files replicated: copy ``c`` gets ids shifted by
``c * 20,000,000`` and its ``Date`` / ``Updated On`` moved ``c * 52`` weeks back, so each copy keeps
the real spatial, seasonal and weekday distribution (and stays after the 2001 earliest date).
They are written as 1M-row CSV parts in a temp folder (never in the repo); size N loads parts
0..N-1, each size in a fresh work dir, in its own process, against one running Prefect server.

Prints per size: rows, seconds, rows/s, peak RSS of the flow process, then the time of an
incremental rerun with no new data (every part skipped by checksum, nothing loaded), and at the
end the time ratio of the largest to the smallest size.

Usage: .venv/bin/python bench/scale.py [--sizes 1,3] [--keep] [--memory-limit 2GB]   (--sizes 1,3,10: full run)
A size that fails prints one FAILED line with the error and the others still run.
Needs ~260 MB of free space in the temp folder per million rows (check ``df -h /tmp``).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
PY = sys.executable
PART_ROWS = 1_000_000
ID_STRIDE = 20_000_000
SHIFT_DAYS = 364  # 52 weeks: the weekday of every incident is kept
DATE_FORMAT = "%m/%d/%Y %I:%M:%S %p"

FLOW = r'''
import json, resource, sys, time
t0 = time.perf_counter()
import flows
from flows.police_incidents import police_incidents_flow
out = police_incidents_flow(files=sys.argv[1:])
print(json.dumps({"rows": sum(s.get("rows_read", 0) for s in out),
                  "loaded": sum(s.get("rows_loaded", 0) for s in out),
                  "quarantined": sum(s.get("rows_quarantined", 0) for s in out),
                  "skipped": sum(1 for s in out if s["status"] == "skipped"),
                  "seconds": time.perf_counter() - t0,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
'''


def read_base():
    """Return the four real year files as one Arrow table of strings (read in place)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    sys.path.insert(0, str(REPO))
    from flows.settings import Settings
    from tasks.sources.csv_reader import read_header

    settings = Settings()
    tables = []
    for rel in settings.city.source("police_chicago").files:
        path = settings.data_path(rel)
        text = {name: pa.string() for name in read_header(path)}  # keep codes such as IUCR 0486 as written
        tables.append(pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(column_types=text),
                                     read_options=pacsv.ReadOptions(block_size=16 << 20)))
    return pa.concat_tables(tables).combine_chunks()


def replicate(base, copy: int):
    """Return copy ``copy`` of the base table: ids shifted by copy*ID_STRIDE, dates copy*52 weeks earlier."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if copy == 0:
        return base
    out = base
    ids = pc.cast(pc.add(pc.cast(base["ID"], pa.int64()), copy * ID_STRIDE), pa.string())
    out = out.set_column(out.schema.get_field_index("ID"), "ID", ids)
    shift = pa.scalar(copy * SHIFT_DAYS * 86400, pa.duration("s"))
    for col in ("Date", "Updated On"):
        ts = pc.strptime(base[col], format=DATE_FORMAT, unit="s", error_is_null=True)
        text = pc.strftime(pc.subtract(ts, shift), format=DATE_FORMAT)
        out = out.set_column(out.schema.get_field_index(col), col, pc.if_else(pc.is_null(ts), base[col], text))
    if "Year" in out.schema.names:
        year = pc.cast(pc.subtract(pc.cast(base["Year"], pa.int64()), copy), pa.string())
        out = out.set_column(out.schema.get_field_index("Year"), "Year", year)
    return out


def write_parts(folder: Path, n_parts: int) -> list[Path]:
    """Write parts 0..n_parts-1 (PART_ROWS rows each) of the replicated stream; return their paths."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"crimes_part{k:02d}.csv" for k in range(n_parts)]
    if all(p.exists() for p in paths):
        return paths
    t0 = time.perf_counter()
    base = read_base()
    n = base.num_rows
    for k, path in enumerate(paths):
        if path.exists():
            continue
        start, end = k * PART_ROWS, (k + 1) * PART_ROWS
        pieces = []
        for copy in range(start // n, (end - 1) // n + 1):
            lo, hi = max(start - copy * n, 0), min(end - copy * n, n)
            pieces.append(replicate(base.slice(lo, hi - lo), copy))
        tmp = path.with_suffix(".tmp")
        pacsv.write_csv(pa.concat_tables(pieces), tmp)
        tmp.replace(path)
    print(f"inputs: {n_parts} parts of {PART_ROWS:,} rows from {n:,} real rows in {time.perf_counter() - t0:.0f}s "
          f"({sum(p.stat().st_size for p in paths) / 1e9:.2f} GB in {folder})", flush=True)
    return paths


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_flow(env: dict, files: list[Path]) -> dict:
    """Run the flow in a fresh process; return its figures, or ``{"error": last error line, "seconds": s}``."""
    t0 = time.perf_counter()
    proc = subprocess.run([PY, "-c", FLOW, *map(str, files)], env=env, cwd=REPO, capture_output=True, text=True)
    if proc.returncode != 0:
        errors = [line for line in proc.stderr.splitlines() if "Error" in line and not line.startswith(" ")]
        return {"error": (errors or proc.stderr.splitlines() or ["?"])[-1][:300], "seconds": time.perf_counter() - t0}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def start_server(home: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    env["PREFECT_HOME"] = str(home)
    server = subprocess.Popen([str(Path(PY).parent / "prefect"), "server", "start", "--host", "127.0.0.1",
                               "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    api = f"http://127.0.0.1:{port}/api"
    for _ in range(120):
        try:
            if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                return server, api
        except httpx.HTTPError:
            pass
        time.sleep(1)
    server.kill()
    raise SystemExit("prefect server did not start")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1,3", help="millions of rows, comma-separated (default 1,3; full: 1,3,10)")
    ap.add_argument("--tmp", default=None, help="folder for inputs and work dirs (default: a new temp folder)")
    ap.add_argument("--keep", action="store_true", help="keep the inputs and work dirs")
    ap.add_argument("--memory-limit", default=None,
                    help="DuckDB memory_limit for the warehouse (e.g. 2GB; default: warehouse/engine.py's)")
    args = ap.parse_args()
    sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    tmp = Path(args.tmp) if args.tmp else Path(tempfile.mkdtemp(prefix="pulse-scale-"))
    parts = write_parts(tmp / "inputs", max(sizes))
    server, api = start_server(tmp / "prefect-home")
    results = {}
    try:
        for size in sizes:
            work = tmp / f"work-{size}m"
            shutil.rmtree(work, ignore_errors=True)
            env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
            env.update(PULSE_WORK_DIR=str(work), PREFECT_LOGGING_LEVEL="WARNING", PYTHONPATH=str(REPO),
                       PREFECT_API_URL=api, PREFECT_HOME=str(tmp / "prefect-home"))
            env.pop("PULSE_WAREHOUSE_URL", None)
            if args.memory_limit:
                env["PULSE_WAREHOUSE_URL"] = f"duckdb:///{work / 'pulse.duckdb'}?memory_limit={args.memory_limit}"
            full = run_flow(env, parts[:size])
            if "error" in full:
                print(f"{size}M: FAILED after {full['seconds']:.0f}s: {full['error']}", flush=True)
                continue
            again = run_flow(env, parts[:size])
            results[size] = full
            print(f"{size}M: rows={full['rows']:,} loaded={full['loaded']:,} quarantined={full['quarantined']:,} "
                  f"seconds={full['seconds']:.1f} rows_per_s={full['rows'] / full['seconds']:,.0f} "
                  f"peak_rss_mb={full['peak_rss_mb']:.0f} | rerun, no new data: seconds={again['seconds']:.1f} "
                  f"loaded={again['loaded']} skipped_batches={again['skipped']}", flush=True)
            if not args.keep:
                shutil.rmtree(work, ignore_errors=True)
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
        if not args.keep and not args.tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    if not results:
        return
    lo, hi = min(results), max(results)
    if hi != lo:
        ratio = results[hi]["seconds"] / results[lo]["seconds"]
        print(f"time ratio {hi}M/{lo}M = {ratio:.2f} (linear would be {hi / lo:.0f})")


if __name__ == "__main__":
    main()

"""Time the full police flow on the four real Chicago files against a bare baseline.

Runs, each in its own process on a fresh work folder:
  1. bare baseline: pyarrow CSV read + geopandas sjoin + DuckDB Arrow insert of the same rows;
  2. the flow "cold": no Prefect server configured (ephemeral server start included);
  3. the flow against a running `prefect server` (as in production).
Prints one line per run and, last, for the run against the running server:
  rows=N seconds=S bare_seconds=B ratio=R peak_rss_mb=M
Usage: .venv/bin/python bench/ingest.py [--skip-cold]
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
PY = sys.executable

BARE = r'''
import json, resource, sys, time
t0 = time.perf_counter()
import duckdb, geopandas as gpd, pyarrow as pa, pyarrow.csv as pc
from flows.settings import Settings
s = Settings()
files = [s.data_path(f) for f in s.city.source("police_chicago").files]
nb = gpd.read_file(s.data_path(s.city.neighborhoods.file))[["area_numbe", "geometry"]]
con = duckdb.connect(sys.argv[1])
rows = 0
for f in files:
    t = pc.read_csv(f)
    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(t["Longitude"].to_numpy(zero_copy_only=False),
                                                       t["Latitude"].to_numpy(zero_copy_only=False)), crs="EPSG:4326")
    j = gpd.sjoin(pts, nb, how="left", predicate="within")
    j = j[~j.index.duplicated()]
    t = t.append_column("neighborhood_id", pa.array(j["area_numbe"].astype(object).where(j["area_numbe"].notna(), None).to_list(), type=pa.string()))
    con.register("t", t)
    if rows == 0:
        con.execute("CREATE TABLE incidents AS SELECT * FROM t")
    else:
        con.execute("INSERT INTO incidents SELECT * FROM t")
    con.unregister("t")
    rows += t.num_rows
con.close()
print(json.dumps({"rows": rows, "seconds": time.perf_counter() - t0,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
'''

FLOW = r'''
import json, resource, time
t0 = time.perf_counter()
import flows
from flows.police_incidents import police_incidents_flow
out = police_incidents_flow()
print(json.dumps({"rows": sum(s.get("rows_read", 0) for s in out),
                  "loaded": sum(s.get("rows_loaded", 0) for s in out),
                  "seconds": time.perf_counter() - t0,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_py(code: str, env: dict, *args: str) -> dict:
    proc = subprocess.run([PY, "-c", code, *args], env=env, cwd=REPO, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-3000:])
        raise SystemExit(f"benchmark step failed ({proc.returncode})")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def base_env(work: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    env.update(PULSE_WORK_DIR=str(work), PREFECT_LOGGING_LEVEL="WARNING", PYTHONPATH=str(REPO))
    return env


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip-cold", action="store_true")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="pulse-bench-"))

    bare = run_py(BARE, base_env(tmp / "bare"), str(tmp / "bare.duckdb"))
    print(f"bare baseline: rows={bare['rows']} seconds={bare['seconds']:.1f} peak_rss_mb={bare['peak_rss_mb']:.0f}")

    if not args.skip_cold:
        cold = run_py(FLOW, base_env(tmp / "cold"))
        print(f"flow, cold (ephemeral Prefect): rows={cold['rows']} seconds={cold['seconds']:.1f} "
              f"peak_rss_mb={cold['peak_rss_mb']:.0f}")

    port = free_port()
    server_env = {**base_env(tmp / "server"), "PREFECT_HOME": str(tmp / "prefect-home")}
    server = subprocess.Popen([str(Path(PY).parent / "prefect"), "server", "start", "--host", "127.0.0.1",
                               "--port", str(port)], env=server_env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        api = f"http://127.0.0.1:{port}/api"
        for _ in range(120):
            try:
                if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(1)
        else:
            raise SystemExit("prefect server did not start")
        warm = run_py(FLOW, {**base_env(tmp / "warm"), "PREFECT_API_URL": api, "PREFECT_HOME": str(tmp / "prefect-home")})
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
    ratio = warm["seconds"] / bare["seconds"]
    print(f"flow, running Prefect server: rows={warm['rows']} loaded={warm['loaded']} seconds={warm['seconds']:.1f}")
    print(f"rows={warm['rows']} seconds={warm['seconds']:.1f} bare_seconds={bare['seconds']:.1f} "
          f"ratio={ratio:.2f} peak_rss_mb={warm['peak_rss_mb']:.0f}")


if __name__ == "__main__":
    main()

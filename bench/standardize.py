"""Time ``to_standard`` (the police adapters' standardize step) on the four real Chicago files.

Reads each file once with the adapter's ``read_raw``, cuts it into the flow's chunks (default
100,000 rows, as ``iter_landed`` does from the landing zone), and times only ``to_standard``
(Chicago adapter and the generic mapped adapter driven by config/chicago_generic.toml).
Prints one line per adapter: ``adapter=... rows=N seconds=S cpu_seconds=C best_of=K`` (best wall and
best CPU time of K runs; CPU time is steadier on a shared machine).
Usage: .venv/bin/python bench/standardize.py [--chunk-rows N] [--repeat K] [--files N]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import tomllib
from pathlib import Path

import pyarrow as pa

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tasks.sources import police_chicago  # noqa: E402

FILES = ["chicago_crimes_2015.csv.gz", "chicago_crimes_2016.csv.gz", "chicago_crimes_2017.csv.gz",
         "chicago_crimes_2018_through_1112.csv.gz"]


def generic_to_standard():
    from tasks.sources.incident_adapters import incident_adapter

    with open(REPO / "config" / "chicago_generic.toml", "rb") as fh:
        cfg = tomllib.load(fh)
    return incident_adapter(cfg["sources"]["police_generic"], cfg["city"]["timezone"]).to_standard


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--chunk-rows", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--files", type=int, default=4)
    args = ap.parse_args()
    data = Path(os.environ.get("PULSE_DATA_DIR", REPO.parent / "shared" / "data")) / "chicago_crimes"
    chunks = []
    for name in FILES[: args.files]:
        table = pa.Table.from_batches(list(police_chicago.read_raw(data / name)))
        for off in range(0, table.num_rows, args.chunk_rows):
            frame = table.slice(off, args.chunk_rows).to_pandas()
            chunks.append(frame.set_axis(range(off, off + len(frame))))
    rows = sum(len(c) for c in chunks)
    for label, fn in (("police_chicago", police_chicago.to_standard), ("mapped", generic_to_standard())):
        best, best_cpu = float("inf"), float("inf")
        for _ in range(args.repeat):
            t0, c0 = time.perf_counter(), time.process_time()
            for c in chunks:
                fn(c)
            best, best_cpu = min(best, time.perf_counter() - t0), min(best_cpu, time.process_time() - c0)
        print(f"adapter={label} rows={rows} seconds={best:.2f} cpu_seconds={best_cpu:.2f} best_of={args.repeat} "
              f"chunk_rows={args.chunk_rows}")


if __name__ == "__main__":
    main()

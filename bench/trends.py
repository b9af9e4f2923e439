"""Time the trends flow (and optionally the report) on the full real warehouse, read from a copy.

Copies the DuckDB warehouse (default ``data/pulse.duckdb``, never written) to a scratch folder,
seeds ``dim_programs`` there with the synthetic demo programs and the real library branches when
the copy has no programs yet (the demo feed's generator gives each program's true area), runs
``trends_flow`` and prints the rows per method and level, then, as its last lines, the time of
the whole run and of each method. Goal: the whole run well under 30 s.

    python -m bench.trends [--warehouse data/pulse.duckdb] [--work-dir /tmp/pulse-bench] [--report]
"""
from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import flows  # noqa: F401  (offline defaults for Prefect before it is imported)
from flows.settings import REPO_ROOT, Settings
from schemas.programs import PROGRAMS
from warehouse.resource import Warehouse
from warehouse.load import init_warehouse, replace_table, table_count
from warehouse.tables import metadata


def seed_programs(url: str, data_dir: Path) -> int:
    """Write the demo programs (SYNTHETIC) and the CPL branches into an empty ``dim_programs``."""
    import pandas as pd

    from tasks.sources import programs_cpl, programs_demo
    from tasks.synthetic import programs as demo_gen

    inputs = demo_gen.read_inputs(data_dir)
    feed = demo_gen.generate_programs(inputs["neighborhoods"], inputs["population"], inputs["incidents_by_area"],
                                      blocks=inputs["blocks"])
    demo = programs_demo.to_standard(feed.programs, feed.sessions).programs
    sites = feed.sites.set_index("program_id")
    demo["neighborhood_id"] = demo["program_id"].map(sites["neighborhood_id"]).astype("str")
    demo["latitude"] = demo["program_id"].map(sites["latitude"])
    demo["longitude"] = demo["program_id"].map(sites["longitude"])
    demo["geocode_method"], demo["geocode_precision"] = "latlon", "point"
    cpl = programs_cpl.read_all(data_dir).programs
    frame = PROGRAMS.coerce(pd.concat([demo, cpl], ignore_index=True))
    now = pd.Timestamp.now().floor("s")
    frame = frame.assign(batch_id="bench-seed", loaded_at=now)
    engine = Warehouse(url)
    try:
        init_warehouse(engine)
        return replace_table(engine, metadata.tables["dim_programs"], frame)
    finally:
        engine.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", type=Path, default=REPO_ROOT / "data" / "pulse.duckdb")
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/pulse-bench"))
    parser.add_argument("--report", action="store_true", help="also build the HTML report")
    args = parser.parse_args()

    args.work_dir.mkdir(parents=True, exist_ok=True)
    copy = args.work_dir / "pulse.duckdb"
    shutil.copyfile(args.warehouse, copy)
    url = f"duckdb:///{copy}"
    settings = Settings(work_dir=args.work_dir, warehouse_url=url)
    engine = Warehouse(url)
    init_warehouse(engine)
    n_programs = table_count(engine, "dim_programs")
    engine.close()
    if n_programs == 0:
        print(f"dim_programs empty in the copy: seeded {seed_programs(url, settings.data_dir)} programs "
              "(synthetic demo programs + library branches)")

    from flows.trends import trends_flow

    outer = time.perf_counter()
    summary = trends_flow(settings=settings)
    wall = time.perf_counter() - outer
    print(f"warehouse copy: {copy}")
    for c in summary["episodes"]:
        print(f"  {c['metric']:<15} {c['grain']:<6} {c['kind']:<8} {c['n_episodes']:>6,} headline alert episodes")
    print(f"trend_signals rows: {summary['written']['trend_signals']:,}; alert episodes: "
          f"{summary['written']['alert_episodes']:,}; program_impact rows: "
          f"{summary['written']['program_impact']:,} ({summary['n_programs_estimated']} programs estimated, "
          f"{summary['n_programs_skipped']} not estimated); new alerts {summary['n_alerts']}, "
          f"events {summary['n_events']}")
    if args.report:
        from flows.report import report_flow

        start = time.perf_counter()
        path = report_flow(settings=settings)
        print(f"report: {path} ({path.stat().st_size / 1e3:,.0f} kB) in {time.perf_counter() - start:.1f} s")
    t = summary["timings"]
    print(f"trends flow: {t['total']:.2f} s inside the flow, {wall:.2f} s including Prefect start-up")
    print("per step: " + ", ".join(f"{k} {v:.2f} s" for k, v in t.items() if k != "total"))


if __name__ == "__main__":
    main()

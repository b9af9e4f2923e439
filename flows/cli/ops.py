"""``pulse nightly``, ``pulse backfill`` and ``pulse serve``: operations commands on the main CLI app."""
from __future__ import annotations

import json
from typing import Optional

import typer

RUNNER_HELP = "threads (default) or dask: police chunks on a Dask cluster (local unless --dask-address)."


def parse_params(pairs: list[str] | None) -> dict:
    """Return ``key=value`` pairs as a dict; values are JSON when they parse (lists, numbers), else text."""
    out = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{pair!r}: expected key=value (value may be JSON)", param_hint="--param")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def nightly(stage: Optional[list[str]] = typer.Option(None, "--stage", help="Run only these stages (repeat): "
                                                      "police, treatment, programs, models, trends, report."),
            police_source: Optional[str] = typer.Option(None, help="Only this police source (default: every "
                                                        "police source the city config declares)."),
            police_mode: str = typer.Option("files", help="files | api (incremental from the watermark)."),
            runner: str = typer.Option("threads", help=RUNNER_HELP),
            dask_address: Optional[str] = typer.Option(None, help="Existing Dask scheduler, tcp://host:8786.")):
    """Run the whole pipeline once, as the 02:00 schedule does: feeds, models, trends, report."""
    from rich.table import Table

    from flows.cli.console import console, run_flow
    from flows.nightly import nightly_flow
    from flows.settings import Settings

    out = run_flow(nightly_flow, stages=stage, police_source=police_source, police_mode=police_mode, runner=runner,
                   dask_address=dask_address,
                   settings=Settings())
    table = Table(title="Nightly stages")
    for col in ("stage", "status", "seconds", "message"):
        table.add_column(col, justify="right" if col == "seconds" else "left")
    for name, r in out.items():
        table.add_row(name, r["status"], f"{r['seconds']:.1f}", r["message"])
    console.print(table)

def backfill(source: str = typer.Option("police_chicago", help="Incident source slug in the city config."),
             date_from: str = typer.Option(..., "--from",
                                           help="First day (YYYY-MM-DD); its whole month is included."),
             date_to: str = typer.Option(..., "--to", help="Last day (YYYY-MM-DD); its whole month is included."),
             runner: str = typer.Option("threads", help=RUNNER_HELP),
             dask_address: Optional[str] = typer.Option(None, help="Existing Dask scheduler, tcp://host:8786.")):
    """Reprocess a date range from the raw landing zone (idempotent: rerunning changes nothing)."""
    from flows.backfill import backfill_flow
    from flows.cli.console import console, print_batches, run_flow
    from flows.nightly import with_runner
    from flows.settings import Settings

    settings = Settings()
    out = run_flow(with_runner(backfill_flow, runner, dask_address), source=source, date_from=date_from,
                   date_to=date_to, settings=settings)
    print_batches(out["batches"], settings)
    console.print(f"{source} {out['months'][0]}..{out['months'][-1]}: {out['rows_in_range']:,} landed rows in "
                  f"range, {len(out['batches'])} batch(es) re-merged")
    if out["months_without_data"]:
        console.print(f"[yellow]No landed rows for:[/] {', '.join(out['months_without_data'])}")

def serve(only: Optional[list[str]] = typer.Option(None, "--only", help="Serve only these deployments (repeat)."),
          every: Optional[int] = typer.Option(None, help="Replace the schedules by one run every N seconds "
                                              "(smoke test of scheduling)."),
          param: Optional[list[str]] = typer.Option(None, "--param", help="key=value (JSON values allowed) "
                                                    "over the deployments' parameters; repeat."),
          limit: int = typer.Option(1, help="Max concurrent runs; keep 1 on a DuckDB warehouse.")):
    """Serve every deployment of prefect.yaml with its schedules from this process (Ctrl-C stops)."""
    from flows.serve import build_deployments, read_deployment_specs
    from flows.serve import serve as serve_deployments

    deployments = build_deployments(read_deployment_specs(), only=only, every_seconds=every,
                                    parameters=parse_params(param))
    serve_deployments(deployments, limit=limit)

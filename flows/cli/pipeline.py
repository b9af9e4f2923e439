"""``pulse run``, ``pulse ingest police``, ``pulse models build``, ``pulse trends``, ``pulse report``."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from flows.cli.console import EXAMPLE_QUERY, console, print_batches, run_flow
from flows.settings import Settings
from warehouse.resource import redact


def ingest_police(source: str = typer.Option("police_chicago", help="Source slug in the city config."),
                  mode: Optional[str] = typer.Option(None, help="files | api (default: PULSE_POLICE_MODE, files)"),
                  since: Optional[str] = typer.Option(None, help="API: load records updated after this timestamp "
                                                      "(default: the stored watermark)."),
                  file: Optional[list[Path]] = typer.Option(None, help="Load these files instead of the configured ones.")):
    """Load police incidents (files from the data dir, or the Socrata API)."""
    from flows.police_incidents import police_incidents_flow

    settings = Settings()
    summaries = run_flow(police_incidents_flow, source=source, mode=mode, since=since,
                         files=[str(f) for f in file] if file else None, settings=settings)
    print_batches(summaries, settings)


def models_build():
    """Load the reference tables and (re)build every SQL model (stg, dim, int, mart)."""
    from flows.models import models_flow

    results = run_flow(models_flow, settings=Settings())
    built = [r for r in results if r["status"] == "built"]
    console.print(f"{len(built)} models built: " + ", ".join(r["name"] for r in built), highlight=False)


def trends():
    """Detect trends, spikes and hot spots; estimate program impact (trend_signals, program_impact)."""
    from flows.trends import trends_flow

    out = run_flow(trends_flow, settings=Settings())
    console.print(_trend_line(out), highlight=False)


def report():
    """Write the analyst report (one offline HTML file) and print where it is."""
    from flows.report import report_flow

    path = run_flow(report_flow, settings=Settings())
    console.print(f"Report: [bold]{path}[/]")


def _trend_line(out: dict) -> str:
    written = ", ".join(f"{k} {v:,}" for k, v in out.get("written", {}).items())
    return (f"Trends: {written} rows; {out.get('n_alerts', 0)} new alerts; "
            f"{out.get('n_programs_estimated', 0)} programs estimated")


def run_all():
    """The main job: every feed, then models, trends and the report; prints where to look."""
    from flows.models import models_flow
    from flows.police_incidents import police_incidents_flow
    from flows.programs import run_program_feeds
    from flows.report import report_flow
    from flows.treatment import run_treatment_feeds
    from flows.trends import trends_flow

    settings = Settings()
    console.rule("police incidents")
    summaries = run_flow(police_incidents_flow, settings=settings)
    console.rule("treatment admissions, TEDS-A, facilities")
    summaries += run_flow(run_treatment_feeds, settings=settings)
    console.rule("programs and attendance")
    summaries += run_flow(run_program_feeds, settings=settings)
    console.rule("models, trends, report")
    models = run_flow(models_flow, settings=settings)
    trend_out = run_flow(trends_flow, settings=settings)
    report_path = run_flow(report_flow, settings=settings)
    print_batches(summaries, settings)
    console.print(f"{sum(r['status'] == 'built' for r in models)} models built. {_trend_line(trend_out)}",
                  highlight=False)
    console.print(f"\nWarehouse: [bold]{redact(settings.resolved_warehouse_url)}[/]")
    console.print(f"Validation report (GX Data Docs): {settings.validation_dir / 'index.html'}")
    console.print(f"Analyst report: [bold]{report_path}[/]")
    console.print("Try (duckdb CLI or Python, read-only):\n" + EXAMPLE_QUERY, highlight=False)

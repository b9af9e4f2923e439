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


def models_build(select: Optional[list[str]] = typer.Option(None, "--select", "-s", help="dbt node selection "
                                                           "(repeat), e.g. -s marts or -s +mart_neighborhood_month."),
                 exclude: Optional[list[str]] = typer.Option(None, "--exclude", help="dbt nodes to leave out (repeat)."),
                 selector: Optional[str] = typer.Option(None, help="A selector of warehouse/selectors.yml.")):
    """Load the code tables, then ``dbt build`` the warehouse models and their tests (selectors pass through)."""
    from flows.models import models_flow

    settings = Settings()
    results = run_flow(models_flow, settings=settings, select=select, exclude=exclude, selector=selector)
    console.print(_models_line(results, settings), highlight=False)


def _models_line(results: list[dict], settings: Settings) -> str:
    models = [r for r in results if r["type"] == "model" and r["status"] == "success"]
    tests = [r for r in results if r["type"] == "test" and r["status"] == "pass"]
    return (f"{len(models)} models built, {len(tests)} dbt tests passed. Docs: "
            f"{settings.work_dir / 'dbt' / 'docs' / 'index.html'}")


def trends():
    """Run every registered trend method; alarms merge into alert episodes (alert_episodes, program_impact)."""
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


def run_all(rebuild: bool = typer.Option(False, "--rebuild", help="Rebuild models, trends and the report even "
                                         "when no input changed since the last build.")):
    """The main job: every source the city config declares, then models, trends and the report.

    Models, trends and the report are rebuilt only when an input they read changed since the last
    completed build (a load, the city config, the small-cell threshold or their code); otherwise the
    run says so and keeps the last build's outputs (``--rebuild`` forces it).
    """
    from flows.feeds import GROUPS, configured_feeds, run_feed_group

    settings = Settings()
    summaries = []
    for group in GROUPS:
        if configured_feeds(settings, group):
            console.rule(f"{group} feeds")
            summaries += run_flow(run_feed_group, group=group, settings=settings)
    console.rule("models, trends, report")
    fingerprint, built_at = _last_build(settings)
    if built_at and not rebuild:
        print_batches(summaries, settings)
        console.print(f"No input changed since the build of {built_at}: models, trends and the report were "
                      "skipped (pulse run --rebuild forces them).", highlight=False)
        report_path = settings.reports_dir / "index.html"
    else:
        models, trend_out, report_path = _build(settings, fingerprint)
        print_batches(summaries, settings)
        console.print(f"{_models_line(models, settings)}\n{_trend_line(trend_out)}", highlight=False)
    console.print(f"\nWarehouse: [bold]{redact(settings.resolved_warehouse_url)}[/]")
    if settings.resolved_warehouse_url.startswith("duckdb"):
        console.print(f"Analyst file (open this one): [bold]{settings.work_dir / 'analyst.duckdb'}[/]")
    console.print(f"Validation report (GX Data Docs): {settings.validation_dir / 'index.html'}")
    console.print(f"Analyst report: [bold]{report_path}[/]")
    console.print("Try (duckdb CLI or Python, read-only):\n" + EXAMPLE_QUERY, highlight=False)


def _last_build(settings: Settings) -> tuple[str, str | None]:
    """Return (fingerprint of the current inputs, when the last build with it ran or None)."""
    from warehouse.build_state import build_fingerprint, read_build_state, unchanged_since
    from warehouse.resource import Warehouse

    with Warehouse(settings.resolved_warehouse_url) as wh:
        fingerprint = build_fingerprint(wh, settings.city_config, settings.small_cell_threshold)
    return fingerprint, unchanged_since(read_build_state(settings.work_dir), fingerprint)


def _build(settings: Settings, fingerprint: str):
    """Run models, trends and the report; record the build so an unchanged rerun can skip it."""
    from flows.models import models_flow
    from flows.report import report_flow
    from flows.trends import trends_flow
    from warehouse.build_state import write_build_state

    models = run_flow(models_flow, settings=settings)
    trend_out = run_flow(trends_flow, settings=settings)
    report_path = run_flow(report_flow, settings=settings)
    outputs = {"report": str(report_path)}
    if settings.resolved_warehouse_url.startswith("duckdb"):
        outputs["analyst_file"] = str(settings.work_dir / "analyst.duckdb")
    write_build_state(settings.work_dir, fingerprint, outputs)
    return models, trend_out, report_path

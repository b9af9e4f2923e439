"""``pulse``: the command line for engineers and analysts."""
from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Optional

import typer
from prefect import Flow
from rich.console import Console
from rich.table import Table

from flows.settings import Settings
from schemas.errors import PulseError
from warehouse.engine import redact

app = typer.Typer(help="community-pulse: drug-offense, treatment and program data to a neighborhood warehouse.",
                  no_args_is_help=True, pretty_exceptions_enable=False)


def group(parent: typer.Typer, name: str, help_text: str) -> typer.Typer:
    """Return the sub-command group ``name`` of ``parent``, adding it when no module has yet."""
    for info in parent.registered_groups:
        if info.name == name and info.typer_instance is not None:
            return info.typer_instance
    sub = typer.Typer(help=help_text, no_args_is_help=True)
    parent.add_typer(sub, name=name)
    return sub


ingest_app = group(app, "ingest", "Load one feed.")
console = Console(width=max(Console().width, 150))
err = Console(stderr=True)

EXAMPLE_QUERY = """SELECT n.name, date_trunc('month', i.occurred_at) AS month, count(*) AS drug_incidents
FROM fct_incidents i JOIN dim_neighborhoods n USING (neighborhood_id)
WHERE i.is_drug_offense
GROUP BY ALL ORDER BY month, drug_incidents DESC
LIMIT 20;"""


def fail(message: str, code: int = 2) -> None:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


class _HideUserErrorTracebacks(logging.Filter):
    """A PulseError already says what is wrong and what to do: log it without a traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], PulseError):
            record.exc_info = None
            record.exc_text = None
        return True


def run_flow(fn, **kwargs):
    """Run a flow and return its result; a failure becomes one clear line, not a traceback."""
    for name in ("prefect.flow_runs", "prefect.task_runs"):
        logging.getLogger(name).addFilter(_HideUserErrorTracebacks())
    if not isinstance(fn, Flow):  # a plain function that runs flows itself
        try:
            return fn(**kwargs)
        except PulseError as exc:
            fail(str(exc))
    state = fn(return_state=True, **kwargs)
    if state.is_failed() or state.is_crashed():
        try:
            state.result()
        except PulseError as exc:
            fail(str(exc))
        except Exception as exc:  # noqa: BLE001 - surfaced as one line; details are in the Prefect logs
            fail(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''} (see the run's logs in the Prefect UI)")
    return state.result()


def print_batches(summaries: list[dict], settings: Settings) -> None:
    table = Table(title="Batches", show_lines=False)
    for col in ("batch", "table", "status", "read", "loaded", "new", "updated", "quarantined", "geocode precision"):
        table.add_column(col, justify="right" if col in ("read", "loaded", "new", "updated", "quarantined") else "left")
    for s in summaries:
        table.add_row(Path(s.get("origin") or s["batch_id"]).name, s.get("table", ""), s["status"],
                      f"{s.get('rows_read', 0):,}",
                      f"{s.get('rows_loaded', 0):,}", f"{s.get('rows_inserted', 0):,}", f"{s.get('rows_updated', 0):,}",
                      f"{s.get('rows_quarantined', 0):,}",
                      ", ".join(f"{k} {v:,}" for k, v in sorted(s.get("geocode_precision", {}).items())))
    console.print(table)


@ingest_app.command("police")
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


models_app = typer.Typer(help="Warehouse SQL models.", no_args_is_help=True)
app.add_typer(models_app, name="models")


@models_app.command("build")
def models_build():
    """Load the reference tables and (re)build every SQL model (stg, dim, int, mart)."""
    from flows.models import models_flow

    results = run_flow(models_flow, settings=Settings())
    built = [r for r in results if r["status"] == "built"]
    console.print(f"{len(built)} models built: " + ", ".join(r["name"] for r in built), highlight=False)


@app.command("trends")
def trends():
    """Detect trends, spikes and hot spots; estimate program impact (trend_signals, program_impact)."""
    from flows.trends import trends_flow

    out = run_flow(trends_flow, settings=Settings())
    console.print(_trend_line(out), highlight=False)


@app.command("report")
def report():
    """Write the analyst report (one offline HTML file) and print where it is."""
    from flows.report import report_flow

    path = run_flow(report_flow, settings=Settings())
    console.print(f"Report: [bold]{path}[/]")


def _trend_line(out: dict) -> str:
    written = ", ".join(f"{k} {v:,}" for k, v in out.get("written", {}).items())
    return (f"Trends: {written} rows; {out.get('n_alerts', 0)} new alerts; "
            f"{out.get('n_programs_estimated', 0)} programs estimated")


@app.command("run")
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


def _register_feature_commands() -> None:
    from flows.cli import ops as cli_ops, programs as cli_programs, treatment as cli_treatment, warehouse as cli_warehouse

    for module in (cli_treatment, cli_programs, cli_warehouse, cli_ops):
        module.register(app)


_register_feature_commands()


def main() -> None:  # pragma: no cover
    try:
        app()
    except PulseError as exc:
        err.print(f"[bold red]error:[/] {exc}")
        sys.exit(2)


if __name__ == "__main__":  # pragma: no cover
    main()

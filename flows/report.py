"""Report: read aggregates from the warehouse -> one self-contained HTML file -> Prefect link artifact."""
from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from flows.settings import Settings
from schemas.errors import InputError
from tasks.report.compose import read_sections
from tasks.report.inputs import report_context, report_data
from tasks.report.render import render_report
from warehouse import reads
from warehouse.load import init_warehouse
from warehouse.resource import Warehouse

TABLES = ("trend_signals", "program_impact", "alert_episodes")


@task(name="read-report-inputs", tags=["warehouse"], retries=2, retry_delay_seconds=2, cache_policy=NO_CACHE)
def read_report_data(url: str, settings: Settings):
    """Return the report's aggregates: trend tables, series, neighborhoods, data quality (None: no incidents)."""
    city, areas = settings.city.city, settings.city.neighborhoods
    engine = Warehouse(url)
    try:
        init_warehouse(engine)
        span = reads.read_incident_span(engine)
        if span is None:
            return None
        ctx = report_context(city.name, areas.label, areas.plural, areas.population_source, city.timezone,
                             reads.read_neighborhoods(engine), city.projected_crs)
        return report_data(ctx, reads.read_drug_incidents_daily(engine), span,
                           {name: reads.read_table(engine, name) for name in TABLES}, reads.read_programs(engine),
                           reads.read_data_quality(engine), reads.read_offense_profile(engine),
                           sections=read_sections(engine, ctx))
    finally:
        engine.close()


render_task = task(render_report, name="render-report", cache_policy=NO_CACHE)


@task(name="write-report", cache_policy=NO_CACHE)
def write_report(html: str, reports_dir: Path, day) -> Path:
    """Write ``index.html`` and a dated copy ``report-YYYY-MM-DD.html``; returns the index path."""
    reports_dir.mkdir(parents=True, exist_ok=True)
    index = reports_dir / "index.html"
    for path in (reports_dir / f"report-{day:%Y-%m-%d}.html", index):
        tmp = path.with_suffix(".tmp")
        tmp.write_text(html, encoding="utf-8")
        tmp.replace(path)
    return index


@flow(name="report", flow_run_name="report")
def report_flow(settings: Settings | None = None) -> Path:
    """Build the analyst report from the warehouse; returns the path of ``<work_dir>/reports/index.html``."""
    settings = settings or Settings()
    log = get_run_logger()
    data = read_report_data(settings.resolved_warehouse_url, settings)
    if data is None:
        raise InputError("fct_incidents", "holds no incidents", "Load incidents first: pulse ingest police")
    if data.signals.empty:
        log.warning("trend_signals is empty: run the trends flow first for maps and alert episodes")
    html = render_task(data)
    path = write_report(html, settings.reports_dir, data.generated_at)
    uri = path.resolve().as_uri()
    create_link_artifact(key="pulse-report", link=uri, link_text="Community Pulse report (HTML)",
                         description="Self-contained analyst report of this run")
    create_markdown_artifact(key="pulse-report-summary", markdown=(
        f"### Community Pulse report\n- File: `{path.resolve()}`\n- Dated copy: "
        f"`report-{data.generated_at:%Y-%m-%d}.html` in the same folder\n- Size: {len(html.encode()) / 1e3:,.0f} kB; "
        "opens offline (inline CSS and SVG, no scripts).\n"), description="Where the report file is")
    log.info("report written to %s (%.0f kB)", path, len(html.encode()) / 1e3)
    return path

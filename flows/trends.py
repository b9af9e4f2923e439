"""Trends: read the count series -> Mann-Kendall, EARS, emerging hot spots, program impact -> tables, alerts."""
from __future__ import annotations

import time
from contextlib import contextmanager
from datetime import datetime

import geopandas as gpd
import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.events import emit_event
from shapely import from_wkt

from flows.settings import Settings
from tasks.trends import prepare as ti
from warehouse import reads
from schemas.errors import InputError
from tasks.trends.hotspots import emerging_hotspots
from schemas.trend_results import PROGRAM_IMPACT_COLUMNS
from tasks.trends.impact import program_impact
from tasks.trends.methods.ears import ears
from tasks.trends.methods.mann_kendall import mann_kendall_trends
from warehouse.resource import Warehouse, redact
from warehouse.load import init_warehouse
from warehouse.trend_results import read_signal_keys, replace_trend_tables

METRIC = "drug_incidents"
ADMISSIONS = "admissions"
MAX_EVENTS = 200  # a first run on years of history must not flood the event stream


@task(name="read-trend-inputs", tags=["warehouse"], retries=2, retry_delay_seconds=2, cache_policy=NO_CACHE)
def read_inputs(url: str) -> dict:
    """Return the series per grain, admissions, neighborhoods and programs ({"span": None} when no incidents)."""
    engine = Warehouse(url)
    try:
        init_warehouse(engine)
        span = reads.read_incident_span(engine)
        if span is None:
            return {"span": None}
        daily = reads.read_drug_incidents_daily(engine)
        hoods = reads.read_neighborhoods(engine)
        ids = hoods["neighborhood_id"].tolist()
        series = {grain: ti.period_series(daily, grain, span, ids) for grain in ti.GRAINS}
        adm_daily, adm_span, adm_synthetic = reads.read_admissions_daily(engine)
        admissions = ti.period_series(adm_daily, "month", adm_span) if adm_span else None
        return {"span": span, "series": series, "admissions": admissions, "admissions_synthetic": adm_synthetic,
                "neighborhoods": hoods,
                "programs": reads.read_programs(engine), "previous": read_signal_keys(engine)}
    finally:
        engine.close()


@task(name="detect", task_run_name="{step}", cache_policy=NO_CACHE)
def detect(step: str, fn, *args, **kwargs) -> tuple[pd.DataFrame | None, str | None]:
    """Run one detector; returns (signals, None), or (None, reason) when its input is too short or empty."""
    try:
        return fn(*args, **kwargs), None
    except InputError as exc:
        return None, str(exc)


program_impact_task = task(program_impact, name="program-impact", cache_policy=NO_CACHE,
                           task_run_name="program impact {metric}")


@task(name="write-trend-tables", tags=["warehouse"], cache_policy=NO_CACHE)
def write_tables(url: str, signals: pd.DataFrame, impact: pd.DataFrame) -> dict[str, int]:
    engine = Warehouse(url)
    try:
        return replace_trend_tables(engine, signals, impact)
    finally:
        engine.close()


@task(name="emit-trend-alerts", cache_policy=NO_CACHE)
def emit_alerts(alerts: pd.DataFrame, names: dict[str, str]) -> int:
    """Emit one ``pulse.trend.alert`` Prefect event per alert (at most MAX_EVENTS); returns events sent."""
    sent = 0
    for row in alerts.head(MAX_EVENTS).itertuples(index=False):
        area = row.neighborhood_id or "citywide"
        event = emit_event(
            event="pulse.trend.alert",
            resource={"prefect.resource.id": f"pulse.neighborhood.{area}",
                      "prefect.resource.name": names.get(area, "Citywide"),
                      "pulse.neighborhood_id": area, "pulse.metric": row.metric, "pulse.method": row.method,
                      "pulse.grain": row.grain},
            payload={"level": row.level, "period_start": f"{row.period_start:%Y-%m-%d}",
                     "period_end": f"{row.period_end:%Y-%m-%d}", "statistic": row.statistic, "score": row.score},
        )
        sent += event is not None
    return sent


@contextmanager
def timed(timings: dict[str, float], name: str):
    start = time.perf_counter()
    yield
    timings[name] = timings.get(name, 0.0) + time.perf_counter() - start


@flow(name="trends", flow_run_name="trends")
def trends_flow(settings: Settings | None = None) -> dict:
    """Detect trends, spikes, hot spots and program effects; replace trend_signals and program_impact.

    A method whose input is too short (e.g. fewer than 4 complete months) is skipped with the
    reason in the summary and the log. Returns: written (rows per table), counts per (metric,
    grain, method, level), n_alerts, n_events, skipped, timings (seconds per step and total).
    """
    settings = settings or Settings()
    log = get_run_logger()
    url = settings.resolved_warehouse_url
    timings: dict[str, float] = {}
    skipped: dict[str, str] = {}
    started = time.perf_counter()
    computed_at = datetime.now().replace(microsecond=0)

    def attempt(step: str, grain: str, fn, *args, tags: dict | None = None, **kwargs) -> pd.DataFrame | None:
        """Run one detector, timed; an input too short for it is logged and skipped, not fatal."""
        if args[0].empty:
            signals, reason = None, (f"no complete {grain} between {span.first_day:%Y-%m-%d} and "
                                     f"{span.last_day:%Y-%m-%d}")
        else:
            with timed(timings, step.split(" ")[0]):
                signals, reason = detect(step, fn, *args, **kwargs)
        if reason:
            log.warning("%s skipped: %s", step, reason)
            skipped[step] = reason
            return None
        return ti.tag_signals(signals, grain, computed_at, **(tags or {}))

    with timed(timings, "read"):
        inputs = read_inputs(url)
    span = inputs["span"]
    if span is None:
        raise InputError("fct_incidents", "holds no incidents", "Load incidents first: pulse ingest police")
    series, hoods = inputs["series"], inputs["neighborhoods"]
    log.info("warehouse %s: incidents %s..%s", redact(url), f"{span.first_day:%Y-%m-%d}", f"{span.last_day:%Y-%m-%d}")
    polygons = gpd.GeoDataFrame(hoods[["neighborhood_id"]], geometry=from_wkt(hoods["geometry_wkt"]), crs="EPSG:4326")
    parts = [
        attempt("mann_kendall drug_incidents", "month", mann_kendall_trends, series["month"], METRIC, "MS"),
        attempt("ears daily", "day", ears, series["day"], METRIC, "D"),
        attempt("ears weekly", "week", ears, series["week"], METRIC, "W-MON"),
        attempt("emerging_hotspot", "month", emerging_hotspots, series["month"], polygons, METRIC),
    ]
    if inputs["admissions"] is not None:
        # Admissions count people: small areas get no row and no detail lets a count be recomputed.
        admissions = ti.drop_small_series(inputs["admissions"], settings.small_cell_threshold)
        parts.append(attempt("mann_kendall admissions", "month", mann_kendall_trends, admissions, ADMISSIONS, "MS",
                             tags={"synthetic": inputs["admissions_synthetic"], "drop": ti.COUNT_DETAIL_KEYS}))
    with timed(timings, "program_impact"):
        impact = estimate_programs(inputs["programs"], series["month"], hoods, computed_at)
    signals = ti.combine_signals(parts)
    with timed(timings, "write"):
        written = write_tables(url, signals, impact)

    alerts = ti.select_alerts(signals, inputs["previous"], span.last_day)
    names = dict(zip(hoods["neighborhood_id"], hoods["name"]))
    events = emit_alerts(alerts, names)
    counts = ti.signal_counts(signals)
    synthetic = bool(inputs["programs"]["is_synthetic"].fillna(False).any())
    publish_trend_artifacts(alerts, counts, impact, names, synthetic)
    timings["total"] = time.perf_counter() - started
    log.info("trend_signals %d rows, program_impact %d rows, %d new alert(s), %d event(s); %.1f s",
             written["trend_signals"], written["program_impact"], len(alerts), events, timings["total"])
    estimated = impact.loc[impact["method"] != "not_estimated", "program_id"].nunique()
    return {"written": written, "counts": counts, "n_alerts": len(alerts), "n_events": events,
            "n_programs_estimated": estimated, "n_programs_skipped": int((impact["method"] == "not_estimated").sum()),
            "skipped": skipped, "timings": timings}


def estimate_programs(programs: pd.DataFrame, monthly: pd.DataFrame, hoods: pd.DataFrame, computed_at) -> pd.DataFrame:
    """Return program_impact rows: ITS + DiD for programs inside the series, a reason row for the rest."""
    months = monthly["period_start"]
    if months.empty:
        return ti.tag_impact([pd.DataFrame(columns=PROGRAM_IMPACT_COLUMNS)], METRIC, computed_at)
    eligible, skipped = ti.split_programs(programs, months.min(), months.max(), METRIC)
    estimated = (program_impact_task(eligible, monthly, hoods[["neighborhood_id", "population"]], metric=METRIC)
                 if len(eligible) else pd.DataFrame(columns=PROGRAM_IMPACT_COLUMNS))
    return ti.tag_impact([estimated, skipped], METRIC, computed_at)


def publish_trend_artifacts(alerts: pd.DataFrame, counts: list[dict], impact: pd.DataFrame,
                            names: dict[str, str], synthetic: bool) -> None:
    """Create the run's artifacts: new alerts / hot spots (table) and signal counts (markdown)."""
    rows = [{"neighborhood": names.get(r.neighborhood_id, "Citywide") if r.neighborhood_id else "Citywide",
             "metric": r.metric, "grain": r.grain, "method": r.method, "period": f"{r.period_start:%Y-%m-%d}",
             "level": r.level, "statistic": round(float(r.statistic), 2)} for r in alerts.itertuples(index=False)]
    if rows:
        create_table_artifact(key="trend-alerts", table=rows,
                              description="New EARS alarms (last 7 days of data) and new/consecutive/"
                                          "intensifying hot spots since the previous trends run")
    lines = ["### Trend signals", "", "| metric | grain | method | level | rows |", "|---|---|---|---|---|"]
    lines += [f"| {c['metric']} | {c['grain']} | {c['method']} | {c['level']} | {c['n']:,} |" for c in counts]
    est = impact[impact["method"] != "not_estimated"]
    lines += ["", f"Program impact: {est['program_id'].nunique()} program(s) estimated (ITS + DiD), "
              f"{(impact['method'] == 'not_estimated').sum()} not estimated (reason in `details`)."
              + (" Some programs are SYNTHETIC demo data." if synthetic else ""), "",
              f"New alerts this run: {len(alerts)}."]
    create_markdown_artifact(key="trend-summary", markdown="\n".join(lines),
                             description="Counts of trend_signals rows per method and level")

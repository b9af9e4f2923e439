"""Trends: read each metric's counts -> every registered method (one task each) -> tables, alert episodes, alerts.

The recipe only: the metrics are ``tasks.trends.prepare.METRICS``, the methods the registry
(``tasks/trends/methods/``), the frame work ``tasks.trends.steps``. Artifacts and
``pulse.trend.alert`` events count and show alert EPISODES, never trend_signals rows.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from datetime import datetime

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.events import emit_event

from flows.settings import Settings
from schemas.errors import InputError
from tasks.trends import steps
from tasks.trends.prepare import METRICS, Metric, last_period_ends, trend_inputs
from warehouse import reads
from warehouse.load import init_warehouse
from warehouse.resource import Warehouse, redact
from warehouse.trend_results import read_episode_ids, replace_trend_tables

MAX_EVENTS = 200  # a first run on years of history must not flood the event stream


@task(name="read-trend-inputs", tags=["warehouse"], retries=2, retry_delay_seconds=2, cache_policy=NO_CACHE)
def read_inputs(url: str) -> dict:
    """Return each metric's (daily counts, span, synthetic), the neighborhoods, programs and stored episode ids."""
    engine = Warehouse(url)
    try:
        init_warehouse(engine)
        counts = {m.name: getattr(reads, m.read)(engine) for m in METRICS}
        return {"counts": counts, "neighborhoods": reads.read_neighborhoods(engine),
                "programs": reads.read_programs(engine), "previous": read_episode_ids(engine)}
    finally:
        engine.close()


prepare_metric = task(trend_inputs, name="prepare-trend-inputs", task_run_name="prepare {metric.name}",
                      cache_policy=NO_CACHE)


@task(name="trend-method", task_run_name="{name} {metric.name} {grain}", cache_policy=NO_CACHE)
def run_method(name: str, inputs, grain: str, computed_at, metric: Metric, synthetic: bool):
    """Run one registered method; returns (rows, None), or (None, reason) when its input is too short or empty."""
    return steps.run_method(name, inputs, grain, computed_at, metric, synthetic)


build_impact = task(steps.impact_rows, name="program-impact", task_run_name="program impact {metric}",
                    cache_policy=NO_CACHE)
build_episodes = task(steps.episode_rows, name="alert-episodes", cache_policy=NO_CACHE)


@task(name="write-trend-tables", tags=["warehouse"], cache_policy=NO_CACHE)
def write_tables(url: str, signals, impact, episodes) -> dict[str, int]:
    engine = Warehouse(url)
    try:
        return replace_trend_tables(engine, signals, impact, episodes)
    finally:
        engine.close()


@task(name="emit-trend-alerts", cache_policy=NO_CACHE)
def emit_alerts(alerts: list[dict]) -> int:
    """Emit one ``pulse.trend.alert`` Prefect event per new alert episode (at most MAX_EVENTS); returns events sent."""
    sent = 0
    for a in alerts[:MAX_EVENTS]:
        event = emit_event(
            event="pulse.trend.alert",
            resource={"prefect.resource.id": f"pulse.neighborhood.{a['neighborhood_id']}",
                      "prefect.resource.name": a["place"], "pulse.neighborhood_id": a["neighborhood_id"],
                      "pulse.metric": a["metric"], "pulse.method": a["method"], "pulse.grain": a["grain"]},
            payload={k: a[k] for k in ("episode_id", "detectors", "start", "peak", "end", "observed", "expected",
                                       "ongoing")},
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
    """Run every registered trend method on every metric; replace trend_signals, program_impact, alert_episodes.

    A method whose input is too short (e.g. fewer than 4 complete months) is skipped with the
    reason in the summary and the log. Returns: written (rows per table), episodes (headline alert
    episodes per metric/grain/kind), n_alerts (new alert episodes), n_events, skipped, timings.
    """
    settings = settings or Settings()
    log = get_run_logger()
    url = settings.resolved_warehouse_url
    timings: dict[str, float] = {}
    skipped: dict[str, str] = {}
    started = time.perf_counter()
    computed_at = datetime.now().replace(microsecond=0)
    params = {"alarm_budget": settings.city.trends.alarm_budget}  # false alert episodes per area-year

    with timed(timings, "read"):
        raw = read_inputs(url)
    hoods, programs = raw["neighborhoods"], raw["programs"]
    signal_parts, impact_parts, last_ends, synthetic_programs = [], [], {}, False
    for metric in METRICS:
        daily, span, synthetic = raw["counts"][metric.name]
        if span is None:
            if metric.required:
                raise InputError("fct_incidents", "holds no incidents", "Load incidents first: pulse ingest police")
            log.info("%s: no data, skipped", metric.name)
            continue
        log.info("warehouse %s: %s %s..%s", redact(url), metric.name, f"{span.first_day:%Y-%m-%d}",
                 f"{span.last_day:%Y-%m-%d}")
        inputs, not_estimated = prepare_metric(metric, daily, span, hoods, programs, settings.small_cell_threshold,
                                               params)
        last_ends[metric.name] = last_period_ends(inputs)
        impact_runs = {}
        for name, grain in steps.registered(metric):
            with timed(timings, name):
                rows, reason = run_method(name, inputs, grain, computed_at, metric, synthetic)
            if reason:
                log.warning("%s %s %s skipped: %s", name, metric.name, grain, reason)
                skipped[f"{name} {metric.name} {grain}"] = reason
            if steps.is_impact(name):
                impact_runs[name] = rows
            elif rows is not None:
                signal_parts.append(rows)
        if impact_runs and inputs.programs is not None:
            impact_parts.append(build_impact(metric.name, impact_runs, not_estimated, inputs, computed_at))
            synthetic_programs = synthetic_programs or steps.any_synthetic(programs)

    signals = steps.signal_rows(signal_parts)
    impact = steps.impact_table(impact_parts, computed_at)
    with timed(timings, "episodes"):
        episodes = build_episodes(signals, last_ends, computed_at)
    with timed(timings, "write"):
        written = write_tables(url, signals, impact, episodes)

    names = dict(zip(hoods["neighborhood_id"], hoods["name"]))
    alerts = steps.alert_records(steps.new_alerts(episodes, raw["previous"], last_ends), names)
    events = emit_alerts(alerts)
    if alerts:
        create_table_artifact(key="trend-alerts", table=alerts,
                              description="New alert episodes (headline detectors, ongoing or ending in the last "
                                          "7 days of data) since the previous trends run")
    create_markdown_artifact(key="trend-summary", markdown=steps.summary_markdown(
        episodes, impact, len(alerts), skipped, synthetic_programs), description="Alert episodes and program impact")
    timings["total"] = time.perf_counter() - started
    decisions = steps.decision_counts(episodes)
    log.info("%d alert episode(s) (%d headline), %d new alert(s), %d event(s); %s; %.1f s", written["alert_episodes"],
             sum(d["n_episodes"] for d in decisions), len(alerts), events, written, timings["total"])
    return {"written": written, "episodes": decisions, "n_alerts": len(alerts), "n_events": events,
            **steps.impact_counts(impact), "skipped": skipped, "timings": timings}

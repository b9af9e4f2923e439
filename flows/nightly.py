"""Nightly: every feed, then warehouse models, trends and the report, as subflows of one run.

Stages are imported lazily by ``module:attribute`` so a stage whose module is not installed
yet is skipped with one clear warning instead of breaking the whole run. A failing feed does not
stop the other feeds; a stage whose prerequisite failed is skipped; the run then fails with a
message naming each failed stage and its first error (source, batch, expectation).
"""
from __future__ import annotations

import importlib
import logging
import time
from dataclasses import dataclass, field
from datetime import date

from prefect import Flow, flow, get_run_logger, tags
from prefect.artifacts import create_table_artifact
from prefect.runtime import flow_run

from flows.settings import Settings
from schemas.errors import InputError, PulseError

RUNNERS = ("threads", "dask")


@dataclass(frozen=True)
class Stage:
    name: str
    target: str  # "module:attribute" of a flow (or a plain function taking settings=)
    tags: tuple[str, ...] = ()
    needs: tuple[str, ...] = ()  # stages that must have completed for this one to run
    scales_out: bool = False  # its chunk processing may run on a distributed task runner


STAGES: tuple[Stage, ...] = (
    Stage("police", "flows.feeds:run_feed_group", ("ingest",), scales_out=True),
    Stage("treatment", "flows.feeds:run_feed_group", ("ingest", "treatment")),
    Stage("programs", "flows.feeds:run_feed_group", ("ingest", "programs")),
    Stage("health", "flows.feeds:run_feed_group", ("ingest", "health")),
    Stage("outcomes", "flows.feeds:run_feed_group", ("ingest", "outcomes")),
    Stage("models", "flows.models:models_flow", ("warehouse",)),
    Stage("trends", "flows.trends:trends_flow", ("trends",), needs=("models",)),
    Stage("report", "flows.report:report_flow", ("report",), needs=("trends",)),
)
STAGE_NAMES = tuple(s.name for s in STAGES)


@dataclass
class StageResult:
    name: str
    status: str  # completed | failed | skipped | missing
    seconds: float = 0.0
    message: str = ""
    result: object = field(default=None, repr=False)


def quiet_library_loggers() -> None:
    """Keep chatty libraries (Dask's cluster life cycle, HTTP clients) at WARNING in run logs."""
    for name in ("distributed", "urllib3", "httpx", "great_expectations", "numexpr", "fiona", "pyogrio"):
        logging.getLogger(name).setLevel(logging.WARNING)


def task_runner(runner: str = "threads", dask_address: str | None = None, dask_workers: int = 2,
                dask_processes: bool = True):
    """Return the task runner for chunk processing: None (the default thread pool) or a DaskTaskRunner.

    With ``dask_address`` the chunks go to that existing cluster (``tcp://host:8786``); otherwise a
    local cluster of ``dask_workers`` single-threaded workers is started for the run.
    """
    if runner not in RUNNERS:
        raise InputError("--runner", f"unknown runner {runner!r}", f"Use one of {', '.join(RUNNERS)}")
    if runner == "threads":
        return None
    from prefect_dask import DaskTaskRunner  # imports distributed, which sets its own log levels

    quiet_library_loggers()
    if dask_address:
        return DaskTaskRunner(address=dask_address)
    return DaskTaskRunner(cluster_kwargs={"n_workers": dask_workers, "threads_per_worker": 1,
                                          "processes": dask_processes, "dashboard_address": None})


def with_runner(fl: Flow, runner: str = "threads", dask_address: str | None = None, **dask_options) -> Flow:
    """Return the flow set to process its chunks on the chosen task runner (unchanged for 'threads')."""
    chosen = task_runner(runner, dask_address, **dask_options)
    return fl if chosen is None else fl.with_options(task_runner=chosen)


def resolve(stage: Stage) -> Flow:
    """Import a stage's flow; a plain function is wrapped in a flow named after the stage.

    Raises LookupError when the module or attribute does not exist (a stage not built yet); any
    other import error propagates, because a broken module must fail loudly.
    """
    module_name, attr = stage.target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        raise LookupError(f"module {module_name} not found") from None
    target = getattr(module, attr, None)
    if target is None:
        raise LookupError(f"{module_name} has no {attr}")
    if isinstance(target, Flow):
        # A flow without its own run-name template would get a random name in the UI.
        return target if target.flow_run_name else target.with_options(flow_run_name=f"{stage.name} feeds")
    return flow(name=stage.name, flow_run_name=f"{stage.name} feeds")(target)


def _run_name() -> str:
    params = flow_run.parameters or {}
    picked = params.get("stages") or STAGE_NAMES
    return f"nightly {date.today():%Y-%m-%d} ({', '.join(picked)}; {params.get('runner', 'threads')})"


@flow(name="nightly", flow_run_name=_run_name)
def nightly_flow(stages: list[str] | None = None, police_source: str | None = None, police_mode: str = "files",
                 runner: str = "threads", dask_address: str | None = None,
                 settings: Settings | None = None) -> dict[str, dict]:
    """Run the pipeline stages in order as subflows; return {stage: {status, seconds, message}}.

    Args:
        stages: a subset of police, treatment, programs, models, trends, report (default: all); a feed
            stage runs every source of its group the city config declares.
        police_source: only this police source (default: every police source of the config).
        police_mode: ``files`` (the configured files) or ``api`` (incremental from the watermark).
        runner: ``threads`` or ``dask`` (police chunks on a Dask cluster; see docs/operations.md).
        dask_address: an existing Dask scheduler (``tcp://host:8786``); default a local cluster.
    """
    settings = settings or Settings()
    log = get_run_logger()
    picked = _pick(stages)
    results: dict[str, StageResult] = {}
    for stage in STAGES:
        if stage.name not in picked:
            continue
        blocked = [n for n in stage.needs if n in results and results[n].status != "completed"]
        if blocked:
            results[stage.name] = StageResult(stage.name, "skipped", message=f"{', '.join(blocked)} did not complete")
            log.warning("stage %s skipped: %s", stage.name, results[stage.name].message)
            continue
        try:
            fl = resolve(stage)
        except LookupError as exc:
            results[stage.name] = StageResult(stage.name, "missing", message=f"{stage.target} not available ({exc})")
            log.warning("stage %s skipped: %s", stage.name, results[stage.name].message)
            continue
        kwargs, extra_tags = {"settings": settings}, ()
        if stage.target == "flows.feeds:run_feed_group":
            kwargs.update(group=stage.name)
        if stage.name == "police":
            kwargs.update(sources=[police_source] if police_source else None, police_mode=police_mode)
            extra_tags = (police_source,) if police_source else ()
        if stage.scales_out:
            fl = with_runner(fl, runner, dask_address)
        results[stage.name] = run_stage(stage, fl, kwargs, extra_tags)
        log.info("stage %s %s in %.1f s%s", stage.name, results[stage.name].status, results[stage.name].seconds,
                 f": {results[stage.name].message}" if results[stage.name].message else "")
    publish_stage_table(list(results.values()))
    failed = [r for r in results.values() if r.status == "failed"]
    if failed:
        raise PulseError("nightly", f"{len(failed)} of {len(results)} stage(s) failed: "
                         + "; ".join(f"{r.name}: {r.message}" for r in failed),
                         "Then rerun those stages: pulse nightly --stage "
                         + " --stage ".join(r.name for r in failed))
    return {r.name: {"status": r.status, "seconds": round(r.seconds, 1), "message": r.message}
            for r in results.values()}


def _pick(stages: list[str] | None) -> list[str]:
    picked = list(stages) if stages else list(STAGE_NAMES)
    unknown = [s for s in picked if s not in STAGE_NAMES]
    if unknown:
        raise InputError("--stage", f"unknown stage(s) {', '.join(unknown)}", f"Use {', '.join(STAGE_NAMES)}")
    return picked


def run_stage(stage: Stage, fl: Flow, kwargs: dict, extra_tags: tuple[str, ...] = ()) -> StageResult:
    """Run one stage's flow as a subflow tagged with the stage's tags; never raises for a failed run."""
    started = time.perf_counter()
    with tags(*stage.tags, *extra_tags):
        state = fl(return_state=True, **kwargs)
    seconds = time.perf_counter() - started
    if state.is_completed():
        return StageResult(stage.name, "completed", seconds, result=state.result())
    exc = state.result(raise_on_failure=False)
    message = str(exc) if isinstance(exc, BaseException) else (state.message or state.name)
    return StageResult(stage.name, "failed", seconds, message=" ".join(message.split()))


def publish_stage_table(results: list[StageResult]) -> None:
    create_table_artifact(key="nightly-stages", description="Stages of this nightly run: status, seconds, message",
                          table=[{"stage": r.name, "status": r.status, "seconds": round(r.seconds, 1),
                                  "message": r.message} for r in results])

"""``pulse serve``: every deployment of ``prefect.yaml`` served with its schedules from one process.

The one-process alternative to a work pool and a worker: ``prefect.serve`` registers each
deployment (same names, schedules, parameters and tags as ``prefect deploy --all`` would), then
polls the server and runs scheduled or UI-triggered runs as subprocesses. Reading
``prefect.yaml`` keeps one definition of the deployments for both paths.
"""
from __future__ import annotations

import importlib
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from prefect import Flow
from prefect.deployments.runner import EntrypointType, RunnerDeployment
from prefect.schedules import Cron, Interval

from schemas.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent
PREFECT_YAML = REPO / "prefect.yaml"


def read_deployment_specs(path: Path = PREFECT_YAML) -> list[dict[str, Any]]:
    """Return the ``deployments`` entries of a prefect.yaml (one dict per deployment)."""
    try:
        specs = yaml.safe_load(path.read_text())["deployments"]
    except (OSError, KeyError, TypeError, yaml.YAMLError) as exc:
        raise ConfigError(path, f"cannot read its deployments ({type(exc).__name__}: {exc})",
                          "Restore prefect.yaml from the repository") from None
    for spec in specs:
        if not {"name", "entrypoint"} <= spec.keys():
            raise ConfigError(path, f"deployment {spec.get('name', '?')!r} lacks a name or entrypoint",
                              "Every deployment needs both")
    return specs


def load_entrypoint(entrypoint: str) -> Flow:
    """Import ``flows/<module>.py:<flow>`` as a module of this package and return the flow object."""
    file, attr = entrypoint.split(":")
    module = importlib.import_module(Path(file).with_suffix("").as_posix().replace("/", "."))
    fl = getattr(module, attr, None)
    if not isinstance(fl, Flow):
        raise ConfigError(entrypoint, "is not a Prefect flow", "Fix the entrypoint in prefect.yaml")
    return fl


def schedules_of(spec: dict[str, Any]) -> list:
    """Return the Prefect schedules of one deployment entry (cron or interval, with timezone and active flag)."""
    out = []
    for s in spec.get("schedules") or []:
        if "cron" in s:
            out.append(Cron(s["cron"], timezone=s.get("timezone"), active=s.get("active", True)))
        elif "interval" in s:
            out.append(Interval(timedelta(seconds=s["interval"]), timezone=s.get("timezone"),
                                active=s.get("active", True)))
        else:
            raise ConfigError(PREFECT_YAML, f"deployment {spec['name']!r}: a schedule needs cron or interval",
                              "See https://docs.prefect.io/v3/how-to-guides/deployments/create-schedules")
    return out


def build_deployments(specs: list[dict[str, Any]], only: list[str] | None = None, every_seconds: int | None = None,
                      parameters: dict[str, Any] | None = None) -> list[RunnerDeployment]:
    """Return runner deployments for the selected specs.

    Args:
        only: deployment names to serve (default: all).
        every_seconds: replace each selected deployment's schedules by one active interval
            (a smoke test of scheduling: watch a run fire without waiting for 02:00).
        parameters: merged over each selected deployment's parameters.
    """
    names = [s["name"] for s in specs]
    unknown = sorted(set(only or []) - set(names))
    if unknown:
        raise ConfigError(PREFECT_YAML, f"no deployment named {', '.join(unknown)}", f"Pick from {', '.join(names)}")
    deployments = []
    for spec in specs:
        if only and spec["name"] not in only:
            continue
        fl = load_entrypoint(spec["entrypoint"])
        schedules = ([Interval(timedelta(seconds=every_seconds))] if every_seconds else schedules_of(spec))
        deployments.append(fl.to_deployment(
            name=spec["name"], schedules=schedules, parameters={**(spec.get("parameters") or {}), **(parameters or {})},
            tags=list(spec.get("tags") or []), description=spec.get("description"),
            concurrency_limit=spec.get("concurrency_limit"), entrypoint_type=EntrypointType.MODULE_PATH,
        ))
    return deployments


def serve(deployments: list[RunnerDeployment], limit: int = 1) -> None:
    """Register the deployments and run their scheduled / triggered runs until interrupted.

    ``limit`` caps concurrent runs in this process: keep 1 on a DuckDB warehouse (one writer).
    """
    from prefect import serve as prefect_serve
    from prefect.settings import get_current_settings

    if not get_current_settings().api.url:
        raise ConfigError("PREFECT_API_URL", "is not set: schedules need a running Prefect server",
                          "Start one (prefect server start) and export PREFECT_API_URL=http://127.0.0.1:4200/api")
    prefect_serve(*deployments, limit=limit)

"""Every trend method in one registry: its name, kind, grains, a one-line description and its function.

A method lives in one module of ``tasks.trends.methods`` that defines ``METHODS = (Method(...), ...)``
beside its function; ``methods()`` discovers them, so adding a detector or an estimator touches only
its own module and its test. The trends flow runs every registered method, the alert episodes and
the report read the registry (kind, ``is_alarm``, description) instead of lists kept by hand.
"""
from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import pandas as pd

KINDS = ("spike", "trend", "cluster", "impact")


@dataclass(frozen=True)
class TrendInputs:
    """What a method may read: one metric's count series and the context around them.

    ``series`` maps a grain (day, week, month) to a long frame ``neighborhood_id, period_start,
    value`` with every neighborhood and every period of the covered span (a null id is the city
    as a whole); periods a source did not cover are absent from ``covered``, never zero-filled.
    """

    metric: str
    series: Mapping[str, pd.DataFrame]
    neighborhoods: pd.DataFrame  # neighborhood_id, name, population, geometry_wkt, centroid_lat/lon
    programs: pd.DataFrame | None = None  # program_id, neighborhood_id, started_on, ended_on, ...
    covered: Mapping[str, pd.DatetimeIndex] = field(default_factory=dict)  # grain -> periods with data
    params: Mapping[str, Any] = field(default_factory=dict)  # alarm budget, seeds, permutations, ...


@dataclass(frozen=True)
class Method:
    """One trend method. ``run(inputs, grain)`` returns trend_signals rows (spike/trend/cluster) or
    program_impact rows (impact); ``is_alarm`` marks which of its rows are alarms."""

    name: str
    kind: str
    grains: tuple[str, ...]
    description: str
    run: Callable[[TrendInputs, str], pd.DataFrame]
    is_alarm: Callable[[pd.DataFrame], pd.Series] | None = None
    headline: bool = False  # the method the report leads with for its kind

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"method {self.name}: kind must be one of {KINDS}, not {self.kind!r}")


@cache
def methods(kind: str | None = None) -> tuple[Method, ...]:
    """Return every registered method (of ``kind``), in module then declaration order."""
    from tasks.trends import methods as package

    found: list[Method] = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        found.extend(getattr(module, "METHODS", ()))
    names = [m.name for m in found]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"trend methods registered twice: {dupes}")
    return tuple(m for m in found if kind is None or m.kind == kind)


def method(name: str) -> Method:
    """Return the registered method called ``name`` (KeyError naming the known ones otherwise)."""
    for m in methods():
        if m.name == name:
            return m
    raise KeyError(f"no trend method {name!r}; registered: {', '.join(m.name for m in methods())}")


def alarm_mask(signals: pd.DataFrame) -> pd.Series:
    """Return True for the rows of ``signals`` (trend_signals shape) that their method calls alarms."""
    out = pd.Series(False, index=signals.index)
    for m in methods():
        if m.is_alarm is None:
            continue
        rows = signals["method"] == m.name
        if rows.any():
            out[rows] = m.is_alarm(signals[rows]).to_numpy(dtype=bool)
    return out

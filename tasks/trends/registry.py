"""Every trend method in one registry: its name, kind, grains, a one-line description and its function.

A method lives in one module of ``tasks.trends.methods`` that defines ``METHODS = (Method(...), ...)``
beside its function; ``methods()`` discovers them, so adding a detector or an estimator touches only
its own module and its test. The trends flow runs every registered method, the alert episodes and
the report read the registry (kind, ``is_alarm``, description, ``headline``) instead of lists kept
by hand. A method's rows carry one of its ``outputs`` in trend_signals' ``method`` column (EARS:
``ears_c1``, ``ears_c2``, ``ears_c3``); alert episodes merge the alarms of all outputs of one method
for one series and grain, so C1/C2/C3 firing together is one alert, not three.
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
    program_impact rows (impact); ``is_alarm`` marks which of its rows are alarms.

    ``outputs`` are the ``method`` values its rows carry (default: its name). ``headline`` marks the
    method(s) the report leads with for a kind; for spike and cluster kinds their alert episodes are
    the pipeline's decision, the other alarm methods are shown as references.
    """

    name: str
    kind: str
    grains: tuple[str, ...]
    description: str
    run: Callable[[TrendInputs, str], pd.DataFrame]
    is_alarm: Callable[[pd.DataFrame], pd.Series] | None = None
    headline: bool = False  # the method the report leads with for its kind
    outputs: tuple[str, ...] = ()  # trend_signals.method values of its rows; () = (name,)
    reference: str = ""  # the literature or implementation it follows, for the report footer and docs

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"method {self.name}: kind must be one of {KINDS}, not {self.kind!r}")
        if not self.outputs:
            object.__setattr__(self, "outputs", (self.name,))


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
    outputs = [o for m in found for o in m.outputs]
    clash = sorted({o for o in outputs if outputs.count(o) > 1})
    if clash:
        raise ValueError(f"trend method outputs claimed by two methods: {clash}")
    return tuple(m for m in found if kind is None or m.kind == kind)


def method(name: str) -> Method:
    """Return the registered method called ``name`` (KeyError naming the known ones otherwise)."""
    for m in methods():
        if m.name == name:
            return m
    raise KeyError(f"no trend method {name!r}; registered: {', '.join(m.name for m in methods())}")


def method_of(output: str) -> Method:
    """Return the registered method whose rows carry ``output`` in trend_signals.method (e.g. ears_c2 -> ears)."""
    for m in methods():
        if output in m.outputs:
            return m
    raise KeyError(f"no trend method produces rows named {output!r}")


def alarm_methods(kind: str | None = None, headline: bool | None = None) -> tuple[Method, ...]:
    """Return the registered methods that raise alarms (``is_alarm`` set), optionally of one kind / headline flag."""
    return tuple(m for m in methods(kind) if m.is_alarm is not None and (headline is None or m.headline == headline))


def alarm_outputs(kind: str | None = None, headline: bool | None = None) -> tuple[str, ...]:
    """Return the trend_signals.method values of alarm methods (what ``startswith("ears_")`` used to decide)."""
    return tuple(o for m in alarm_methods(kind, headline) for o in m.outputs)


def alarm_mask(signals: pd.DataFrame) -> pd.Series:
    """Return True for the rows of ``signals`` (trend_signals shape) that their method calls alarms."""
    out = pd.Series(False, index=signals.index)
    for m in methods():
        if m.is_alarm is None:
            continue
        rows = signals["method"].isin(m.outputs)
        if rows.any():
            out[rows] = m.is_alarm(signals[rows]).to_numpy(dtype=bool)
    return out


def level_is_alarm(rows: pd.DataFrame) -> pd.Series:
    """The common ``is_alarm``: a row is an alarm when its level says so."""
    return rows["level"].eq("alarm")

"""The report's sections: one module each, in the order ``SECTIONS`` lists them.

A section module defines ``SECTION = Section(key, title, read, render)``:

- ``read(wh: Warehouse, ctx: ReportContext) -> data | None`` reads the aggregates it shows from the
  warehouse (through a ``warehouse/*reads*.py`` module: SQL lives in ``warehouse/``); None means
  "nothing to show" and the section is left out with no error;
- ``render(data, ctx: ReportContext) -> str`` returns an HTML fragment (inline SVG and CSS classes
  of ``tasks.report.render.CSS``, no scripts, no external files): pure, tested on hand-made frames.

Adding a section is its module, its entry in ``SECTIONS`` and its test. Every section says where
its numbers come from and what they cannot claim, and marks synthetic inputs with the SYNTHETIC badge.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd


@dataclass(frozen=True)
class ReportContext:
    """What every section may use to speak the city's language and draw its maps."""

    city: str  # as the city config names it
    area_label: str  # singular, e.g. "community area", "neighborhood"
    area_label_plural: str
    population_source: str | None  # e.g. "2010 Census"; None when the config has no population table
    timezone: str
    neighborhoods: pd.DataFrame  # neighborhood_id, name, population, geometry_wkt
    projected_crs: str
    generated_at: pd.Timestamp = field(default_factory=lambda: pd.Timestamp.now().floor("s"))
    links: dict[str, str] = field(default_factory=dict)  # e.g. dbt docs, GX Data Docs (file:// URIs)

    @property
    def names(self) -> dict[str, str]:
        return dict(zip(self.neighborhoods["neighborhood_id"], self.neighborhoods["name"]))


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    read: Callable[[Any, ReportContext], Any]
    render: Callable[[Any, ReportContext], str]


SECTIONS: tuple[str, ...] = (  # module names under tasks.report.sections, in report order
    "alerts",
    "scan_clusters",
    "program_impact",
    "trends",
    "overdoses",
    "community_voice",
    "outcomes",
)

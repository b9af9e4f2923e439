"""Read and render the report's section modules (``tasks.report.sections.SECTIONS``), in order.

A section's data comes from its ``read(wh, ctx)`` in the flow (``read_sections``), or, for the
sections that define ``data_from(report: ReportData)``, from the frames the report already holds
(tests and the flow's shared reads); a section whose data is None is left out.
"""
from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from tasks.report.sections import SECTIONS, ReportContext


def section_modules() -> list[ModuleType]:
    """Return the section modules in report order."""
    return [importlib.import_module(f"tasks.report.sections.{name}") for name in SECTIONS]


def read_sections(wh, ctx: ReportContext) -> dict[str, Any]:
    """Return each section's data from the warehouse (``SECTION.read``), keyed by section key.

    Sections with ``data_from`` are skipped: they take the frames the report reads once.
    """
    return {m.SECTION.key: m.SECTION.read(wh, ctx) for m in section_modules() if not hasattr(m, "data_from")}


def render_sections(report, ctx: ReportContext) -> list[str]:
    """Return the HTML of every section with data (report: a ``ReportData``)."""
    out = []
    for module in section_modules():
        key = module.SECTION.key
        if report.sections is not None and key in report.sections:
            data = report.sections[key]
        elif hasattr(module, "data_from"):
            data = module.data_from(report)
        else:
            data = None
        if data is not None:
            out.append(module.SECTION.render(data, ctx))
    return out

"""Assemble the report's inputs from the warehouse reads (pure): series per grain, the city context."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from tasks.report.data import ReportData
from tasks.report.sections import ReportContext
from tasks.trends.prepare import Span, period_series


def report_context(city: str, area_label: str, area_label_plural: str, population_source: str | None,
                   timezone: str, neighborhoods: pd.DataFrame, projected_crs: str) -> ReportContext:
    """Return the city's language for the sections (from the city config)."""
    return ReportContext(city=city, area_label=area_label, area_label_plural=area_label_plural,
                         population_source=population_source, timezone=timezone, neighborhoods=neighborhoods,
                         projected_crs=projected_crs)


def report_data(ctx: ReportContext, daily: pd.DataFrame, span: Span, tables: Mapping[str, pd.DataFrame],
                programs: pd.DataFrame, quality: dict[str, pd.DataFrame], offenses: pd.DataFrame,
                sections: dict[str, Any] | None = None) -> ReportData:
    """Return the ReportData of one run: ``tables`` holds trend_signals, program_impact and alert_episodes."""
    ids = ctx.neighborhoods["neighborhood_id"].tolist()
    return ReportData(
        neighborhoods=ctx.neighborhoods, signals=tables["trend_signals"], impact=tables["program_impact"],
        episodes=tables["alert_episodes"], programs=programs[["program_id", "name", "program_type", "is_synthetic"]],
        weekly=period_series(daily, "week", span, ids), monthly=period_series(daily, "month", span, ids),
        span=span, quality=quality, offenses=offenses, projected_crs=ctx.projected_crs, city=ctx.city,
        context=ctx, sections=sections, generated_at=ctx.generated_at,
    )

"""Compatibility imports: the trend detectors moved to ``tasks.trends.methods`` and the series
helpers to ``tasks.trends.series``. New code imports from there; this module goes once the
callers (flows/trends.py, tasks/trends/inputs.py, hotspots.py, impact.py, warehouse/trend_tables.py)
are retargeted.
"""
from __future__ import annotations

from tasks.trends.methods.ears import EARS_BASELINE, EARS_GUARD, EARS_THRESHOLDS, ears
from tasks.trends.methods.mann_kendall import mann_kendall_trends
from tasks.trends.series import (
    SERIES_COLUMNS, TREND_SIGNAL_COLUMNS, complete_calendar, details_json, period_end, periods_per_year,
    trend_signals_frame,
)

__all__ = [
    "EARS_BASELINE", "EARS_GUARD", "EARS_THRESHOLDS", "SERIES_COLUMNS", "TREND_SIGNAL_COLUMNS",
    "complete_calendar", "details_json", "ears", "mann_kendall_trends", "period_end", "periods_per_year",
    "trend_signals_frame",
]

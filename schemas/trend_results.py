"""Contracts of the trend results: columns of ``trend_signals`` and ``program_impact`` rows.

Detectors and estimators return frames with these columns; the warehouse adds the series grain,
the metric and when the run computed them. Column meanings: docs/methods.md.
"""
from __future__ import annotations

TREND_SIGNAL_COLUMNS = [
    "neighborhood_id",
    "metric",
    "period_start",
    "period_end",
    "method",
    "statistic",
    "p_value",
    "score",
    "level",
    "details",
]

PROGRAM_IMPACT_COLUMNS = [
    "program_id",
    "neighborhood_id",
    "started_on",
    "method",
    "estimate",
    "ci_low",
    "ci_high",
    "p_value",
    "n_pre",
    "n_post",
    "details",
]

"""Contracts of the trend results: columns of ``trend_signals``, ``program_impact`` and ``alert_episodes`` rows.

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

# One row per alert episode (tasks.trends.episodes: meanings of every column); the table adds computed_at.
ALERT_EPISODE_COLUMNS = [
    "episode_id",
    "neighborhood_id",
    "area_ids",
    "metric",
    "grain",
    "method",
    "kind",
    "is_headline",
    "detectors",
    "start_period",
    "end_period",
    "peak_period",
    "n_periods",
    "observed",
    "expected",
    "peak_observed",
    "peak_expected",
    "max_score",
    "min_p_value",
    "is_ongoing",
]
ALERT_EPISODE_TABLE_COLUMNS = [*ALERT_EPISODE_COLUMNS, "computed_at"]

"""Reads for the report's outcomes section: the analyst-facing outcome marts only (suppressed,
no person keys). Each returns an empty frame when the mart is missing (a city without outcome feeds)."""
from __future__ import annotations

import pandas as pd
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, ProgrammingError

from warehouse.resource import Warehouse, quote

PROGRAM_COLUMNS = ("program_id", "program_name", "charge", "window_months", "n_participants", "n_sets",
                   "participant_risk", "comparison_risk", "risk_ratio", "ci_low", "ci_high", "uptake",
                   "completion_rate", "is_suppressed", "is_synthetic")
CURVE_COLUMNS = ("program_id", "role", "charge", "day", "survival", "ci_low", "ci_high", "n_at_risk", "is_synthetic")
BENCHMARK_COLUMNS = ("referral_group", "n_discharges", "completion_rate", "completion_rate_ci_low",
                     "completion_rate_ci_high", "n_arrested_at_admission", "arrests_reduced_rate",
                     "arrests_reduced_rate_ci_low", "arrests_reduced_rate_ci_high")


def _read(wh: Warehouse, mart: str, columns: tuple[str, ...], order: str) -> pd.DataFrame:
    sql = f"SELECT {', '.join(quote(c) for c in columns)} FROM {quote(mart)} ORDER BY {order}"
    try:
        with wh.connect() as conn:
            rows = conn.execute(text(sql)).all()
    except (ProgrammingError, DBAPIError):  # the mart is not built (no outcome feeds configured)
        return pd.DataFrame(columns=list(columns))
    return pd.DataFrame(rows, columns=list(columns))


def read_program_outcomes(wh: Warehouse) -> pd.DataFrame:
    return _read(wh, "mart_program_outcomes", PROGRAM_COLUMNS, "program_id, charge, window_months")


def read_rearrest_survival(wh: Warehouse) -> pd.DataFrame:
    return _read(wh, "mart_rearrest_survival", CURVE_COLUMNS, "program_id, role, charge, day")


def read_teds_benchmark(wh: Warehouse) -> pd.DataFrame:
    return _read(wh, "mart_teds_discharge_benchmark", BENCHMARK_COLUMNS, "referral_group")

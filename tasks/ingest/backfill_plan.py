"""Backfill planning: which months a request covers and which landed batches hold rows in them.

Pure helpers of ``flows.backfill`` (the flow only wires them to the landing zone and the batch path).
"""
from __future__ import annotations

import pandas as pd

from schemas.errors import InputError

UNPARSED = "unparsed"  # rows whose occurred_at does not parse (they sit in quarantine; no month)


def month_range(date_from: str, date_to: str) -> list[str]:
    """Return the months ``YYYY-MM`` from the month of ``date_from`` to that of ``date_to``, inclusive."""
    try:
        start, end = pd.Period(date_from, freq="M"), pd.Period(date_to, freq="M")
    except (ValueError, TypeError) as exc:
        raise InputError("--from/--to", f"cannot read the dates {date_from!r}, {date_to!r} ({exc})",
                         "Give dates as YYYY-MM-DD or YYYY-MM") from None
    if start > end:
        raise InputError("--from/--to", f"{date_from} is after {date_to}", "Swap them")
    return [str(p) for p in pd.period_range(start, end, freq="M")]


def add_month_counts(counts: dict[str, int], occurred: pd.Series) -> dict[str, int]:
    """Add the rows per ``occurred_at`` month (``YYYY-MM``) of one chunk to ``counts``, plus ``unparsed``."""
    for month, n in occurred.dt.to_period("M").value_counts().items():
        counts[str(month)] = counts.get(str(month), 0) + int(n)
    if occurred.isna().any():
        counts[UNPARSED] = counts.get(UNPARSED, 0) + int(occurred.isna().sum())
    return counts


def plan(coverage: dict[str, dict[str, int]], months: list[str]) -> tuple[list[str], list[dict]]:
    """Return (batch ids holding rows in ``months``, one row per month: month, rows, batches)."""
    wanted = set(months)
    selected = [bid for bid, counts in coverage.items() if wanted & counts.keys()]
    per_month = [{"month": m, "rows": sum(c.get(m, 0) for c in coverage.values()),
                  "batches": ", ".join(bid for bid, c in coverage.items() if m in c)} for m in months]
    return selected, per_month

"""Provisional months: how far back a death export is still incomplete, estimated from revisions.

A case's flags are filled in as investigations close (toxicology for the opioid flag), so an
export undercounts its most recent months. Two exports of the same cases show by how much: the
early export's count of flagged deaths in each month of death over the later export's count is
that month's *completeness* at the early export, as a function of ``months_back`` (0 = the
early export's last month of data). The provisional window is the run of most recent months
whose completeness is below a threshold; every export then marks its own last ``n`` months of
data as provisional (shown shaded, kept out of detector baselines).

NOTE (Cook County, 2018-01..06): the early portal export holds 98, 83, 78, 40, 36, 34 opioid
deaths per month where the 2023 Hub export holds 100, 95, 103, 87, 91, 88: completeness 0.98 at
5 months back, 0.87 at 4, 0.76 at 3 and about 0.4 at 0-2 months, so the window is 5 months at a
0.9 threshold. Measured from the last month of data, because the early export's download date
is not recorded (the file was committed in 2019-02, its last death is 2018-06-29).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

REVISION_COLUMNS = ["case_number", "field", "old_value", "new_value", "old_label", "new_label", "death_month"]
DEFAULT_FIELDS = ("is_opioid_related", "is_gun_related", "manner", "primary_cause", "death_at", "incident_at",
                  "neighborhood_id")


@dataclass(frozen=True)
class ProvisionalWindow:
    """The provisional months of one export: its last ``n_months`` months of data."""

    label: str
    last_data_month: pd.Period
    n_months: int

    @property
    def first_provisional_month(self) -> pd.Period | None:
        return self.last_data_month - (self.n_months - 1) if self.n_months > 0 else None


def case_revisions(older: pd.DataFrame, newer: pd.DataFrame, fields: Sequence[str] = DEFAULT_FIELDS) -> pd.DataFrame:
    """Return one row per case and field whose value differs between two exports of the same
    cases (``REVISION_COLUMNS``; values as text, null stays null). Cases in one export only are
    not revisions and are left out. Both frames need ``case_number``, ``export_label``,
    ``death_date`` and the ``fields`` they share."""
    shared = [f for f in fields if f in older.columns and f in newer.columns]
    cols = ["case_number", "export_label", "death_date", *shared]
    both = older[cols].merge(newer[cols], on="case_number", suffixes=("_old", "_new"))
    parts = []
    for f in shared:
        old = both[f"{f}_old"].astype("str")
        new = both[f"{f}_new"].astype("str")
        changed = ~((old == new) | (old.isna() & new.isna()))
        if changed.any():
            rows = both[changed]
            parts.append(pd.DataFrame({
                "case_number": rows["case_number"], "field": f, "old_value": old[changed], "new_value": new[changed],
                "old_label": rows["export_label_old"], "new_label": rows["export_label_new"],
                "death_month": pd.to_datetime(rows["death_date_new"]).dt.to_period("M").astype("str"),
            }))
    if not parts:
        return pd.DataFrame(columns=REVISION_COLUMNS).astype("str")
    return pd.concat(parts, ignore_index=True)[REVISION_COLUMNS].astype("str")


def flag_completeness(early: pd.DataFrame, late: pd.DataFrame, flag: str = "is_opioid_related",
                      date_col: str = "death_date") -> pd.DataFrame:
    """Return one row per month of death the early export covers: ``month``, ``months_back``
    (0 = its last month of data), ``n_early`` / ``n_late`` (cases with ``flag`` true in each
    export) and ``completeness`` = n_early / n_late (NaN where the later export has none)."""
    months_early = pd.to_datetime(early[date_col]).dt.to_period("M")
    if months_early.isna().all():
        raise ValueError("the early export has no dates of death")
    span = pd.period_range(months_early.min(), months_early.max(), freq="M")
    n_early = months_early[early[flag].fillna(False).astype(bool)].value_counts()
    months_late = pd.to_datetime(late[date_col]).dt.to_period("M")
    n_late = months_late[late[flag].fillna(False).astype(bool)].value_counts()
    out = pd.DataFrame({"month": span.astype("str")})
    out["months_back"] = [int((span[-1] - m).n) for m in span]
    out["n_early"] = [int(n_early.get(m, 0)) for m in span]
    out["n_late"] = [int(n_late.get(m, 0)) for m in span]
    out["completeness"] = out["n_early"] / out["n_late"].where(out["n_late"] > 0)
    return out


def estimate_provisional_months(completeness: pd.DataFrame, threshold: float = 0.9) -> int:
    """Return the number of most recent months (from ``months_back`` 0 back) whose completeness
    is below ``threshold``, stopping at the first complete-enough month. If every month of the
    early export is incomplete, that is a lower bound: all its months are returned."""
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], not {threshold}")
    n = 0
    for value in completeness.sort_values("months_back")["completeness"]:
        if pd.notna(value) and value >= threshold:
            break
        n += 1
    return n


def provisional_windows(last_data_months: Mapping[str, pd.Period | str], n_months: int,
                        overrides: Mapping[str, int] | None = None) -> dict[str, ProvisionalWindow]:
    """Return each export's window: its last ``n_months`` months of data (an override per export
    label from config wins, e.g. ``provisional_months = 0`` for a closed historical file)."""
    overrides = dict(overrides or {})
    for label, n in overrides.items():
        if int(n) < 0:
            raise ValueError(f"provisional months for {label} must be >= 0, not {n}")
    return {label: ProvisionalWindow(label, pd.Period(month, freq="M"), int(overrides.get(label, n_months)))
            for label, month in last_data_months.items()}


def mark_provisional(frame: pd.DataFrame, period_col: str, window: ProvisionalWindow, freq: str = "M") -> pd.DataFrame:
    """Return a copy of a series frame with ``is_provisional``: true for a period (starting at
    ``period_col``, of length ``freq``: ``M``, ``W`` or ``D``) that ends on or after the first day
    of the window. A week straddling the window's start counts as provisional."""
    out = frame.copy()
    start = window.first_provisional_month
    if start is None:
        out["is_provisional"] = pd.Series(False, index=frame.index, dtype="boolean")
        return out
    starts = pd.to_datetime(frame[period_col])
    ends = {"M": starts + pd.offsets.MonthEnd(0), "W": starts + pd.Timedelta(days=6), "D": starts}
    if freq not in ends:
        raise ValueError(f"freq must be M, W or D, not {freq!r}")
    out["is_provisional"] = (ends[freq] >= start.start_time).astype("boolean")
    return out

"""Kaplan-Meier curves of time to re-arrest for participants and their matched comparison (lifelines).

Time runs from the index date; a person without a re-arrest is censored at the data end (or at
``max_days``). The comparison curve weights each person 1 / (comparison people in the set), as the
risk ratios do. Its band is lifelines' Greenwood band on those weights, which counts one person per
set: wider than the truth for k > 1 comparison people per set, never narrower (lifelines warns
about non-integer weights for exactly this reason; the warning is silenced here, the note stays).
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter
from lifelines.exceptions import StatisticalWarning

CURVE_COLUMNS = ("program_id", "role", "charge", "day", "survival", "ci_low", "ci_high", "n_at_risk", "n_events")


def durations(outcomes: pd.DataFrame, charge: str = "any", max_days: int = 730) -> pd.DataFrame:
    """Return per matched member: days (to re-arrest or censoring, capped at ``max_days``) and event."""
    days = outcomes[f"days_to_{charge}"]
    event = days.notna() & (days <= max_days)
    t = days.where(event, np.minimum(outcomes["followup_days"], max_days)).astype("float64")
    return pd.DataFrame({"days": t, "event": event.astype(bool)}, index=outcomes.index)


def km_curve(days: pd.Series, event: pd.Series, weights: pd.Series | None = None, alpha: float = 0.05) -> pd.DataFrame:
    """Return the Kaplan-Meier curve at each event/censoring day: day, survival, ci_low, ci_high,
    n_at_risk, n_events (weighted counts when ``weights`` are given)."""
    kmf = KaplanMeierFitter(alpha=alpha)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StatisticalWarning)
        kmf.fit(days.to_numpy(), event.to_numpy(), weights=None if weights is None else weights.to_numpy())
    sf = kmf.survival_function_.iloc[:, 0]
    ci = kmf.confidence_interval_survival_function_
    table = kmf.event_table
    return pd.DataFrame({
        "day": sf.index.to_numpy(dtype="float64"), "survival": sf.to_numpy(),
        "ci_low": ci.iloc[:, 0].to_numpy(), "ci_high": ci.iloc[:, 1].to_numpy(),
        "n_at_risk": table["at_risk"].reindex(sf.index).to_numpy(dtype="float64"),
        "n_events": table["observed"].reindex(sf.index).to_numpy(dtype="float64"),
    })


def rearrest_curves(outcomes: pd.DataFrame, by: str | None = "program_id", charges: tuple[str, ...] = ("any",),
                    max_days: int = 730, alpha: float = 0.05) -> pd.DataFrame:
    """Return CURVE_COLUMNS: one curve per group (``by``; None = 'all'), role and charge.

    ``outcomes``: ``tasks.outcomes.rearrest.rearrest_outcomes`` output (matched members).
    """
    groups = [("all", outcomes)] if by is None else list(outcomes.groupby(by, sort=True))
    parts = []
    for name, frame in groups:
        for charge in charges:
            d = durations(frame, charge, max_days)
            for role, members in frame.groupby("role", sort=True):
                w = None if role == "participant" else members["weight"]
                curve = km_curve(d.loc[members.index, "days"], d.loc[members.index, "event"], w, alpha)
                parts.append(curve.assign(program_id=name, role=role, charge=charge))
    if not parts:
        return pd.DataFrame(columns=list(CURVE_COLUMNS))
    return pd.concat(parts, ignore_index=True)[list(CURVE_COLUMNS)]


def survival_at(curves: pd.DataFrame, day: float) -> pd.DataFrame:
    """Return per program, role and charge the survival (and band) at ``day`` (step function)."""
    rows = []
    for key, c in curves.groupby(["program_id", "role", "charge"], sort=True):
        at = c[c["day"] <= day].iloc[-1]
        rows.append({"program_id": key[0], "role": key[1], "charge": key[2], "day": day,
                     "survival": at["survival"], "ci_low": at["ci_low"], "ci_high": at["ci_high"]})
    return pd.DataFrame(rows)

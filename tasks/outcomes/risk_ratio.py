"""Risk ratios of re-arrest, participants vs their matched comparison, with 95% intervals.

Estimate: participant risk / set-weighted comparison risk, each comparison person weighted
1 / (comparison people in their set), so each set counts once (the effect on the participants).
Interval: log-symmetric, from the cluster-robust (sandwich) variance of the log ratio with
clusters = persons, because matching is with replacement and one comparison person can sit in
several sets. This is exactly the log-link Poisson GLM of the event on a participant indicator
with those weights and person-clustered standard errors ("modified Poisson", Zou 2004) as
statsmodels computes it (``GLM(..., var_weights=w).fit(cov_type="cluster")``, default small-sample
factor G/(G-1) x (N-1)/(N-2)); the closed form below avoids refitting a GLM per cell (the test
pins the two together).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy.stats import norm

from tasks.outcomes.rearrest import CHARGES, WINDOWS_MONTHS

RISK_RATIO_COLUMNS = ("program_id", "charge", "window_months", "risk_ratio", "ci_low", "ci_high", "n_sets",
                      "n_participant_events", "n_comparison", "n_comparison_people", "n_comparison_events",
                      "participant_risk", "comparison_risk")


class RiskRatio(NamedTuple):
    risk_ratio: float
    ci_low: float
    ci_high: float
    n_sets: int  # participants (one per set)
    n_participant_events: int
    n_comparison: int  # comparison rows (a person reused in k sets counts k times)
    n_comparison_people: int
    n_comparison_events: int  # comparison rows with the event
    participant_risk: float
    comparison_risk: float  # weighted: each set's comparison risk counts once


def matched_risk_ratio(members: pd.DataFrame, alpha: float = 0.05) -> RiskRatio:
    """Return the risk ratio over matched members.

    ``members``: person_key, role ('participant' | 'comparison'), weight, event (bool; rows with a
    null event are left out). NaN estimate/interval where undefined: no comparison events (the
    ratio is infinite), no participant events (its logarithm is), fewer than two people.
    """
    m = members.dropna(subset=["event"])
    treated = (m["role"] == "participant").to_numpy()
    y = m["event"].astype(bool).to_numpy().astype(float)
    w = m["weight"].to_numpy(dtype=float)
    n1, a = int(treated.sum()), int(y[treated].sum())
    c = int(y[~treated].sum())
    p1 = a / n1 if n1 else np.nan
    p0 = float((w[~treated] * y[~treated]).sum() / w[~treated].sum()) if (~treated).any() else np.nan
    rr, lo, hi = np.nan, np.nan, np.nan
    if a > 0 and c > 0 and m["person_key"].nunique() > 2:
        rr = p1 / p0
        se = _cluster_se(y, w, treated, p1, p0, m["person_key"].to_numpy())
        z = norm.ppf(1 - alpha / 2)
        lo, hi = float(np.exp(np.log(rr) - z * se)), float(np.exp(np.log(rr) + z * se))
    elif a == 0 and c > 0:
        rr = 0.0
    return RiskRatio(rr, lo, hi, n1, a, int((~treated).sum()), int(m.loc[~treated, "person_key"].nunique()), c,
                     float(p1), p0)


def _cluster_se(y, w, treated, p1, p0, persons) -> float:
    """Return the person-clustered linearization standard error of log(p1 / p0)."""
    psi = np.where(treated, (y - p1) / (treated.sum() * p1), -w * (y - p0) / (w[~treated].sum() * p0))
    u = pd.Series(psi).groupby(persons).sum().to_numpy()
    g, n = len(u), len(y)
    return float(np.sqrt((u ** 2).sum() * g / (g - 1) * (n - 1) / (n - 2)))


def risk_ratio_table(outcomes: pd.DataFrame, by: str | None = "program_id",
                     windows: tuple[int, ...] = WINDOWS_MONTHS, alpha: float = 0.05) -> pd.DataFrame:
    """Return one row per group (``by``; None = all sets pooled as 'all'), charge and window
    (RISK_RATIO_COLUMNS). ``outcomes``: ``tasks.outcomes.rearrest.rearrest_outcomes`` output."""
    groups = [("all", outcomes)] if by is None else list(outcomes.groupby(by, sort=True))
    rows = []
    for name, frame in groups:
        for w in windows:
            has = frame[f"has_followup_{w}m"].fillna(False).astype(bool)
            for charge in CHARGES:
                members = frame.loc[has, ["person_key", "role", "weight"]].assign(
                    event=frame.loc[has, f"is_rearrested_{charge}_{w}m"])
                rows.append({"program_id": name, "charge": charge, "window_months": w,
                             **matched_risk_ratio(members, alpha)._asdict()})
    return pd.DataFrame(rows, columns=list(RISK_RATIO_COLUMNS))

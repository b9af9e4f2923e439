"""Analyst-facing outcome frames: aggregated, person keys dropped, small cells suppressed.

- ``program_outcomes_mart``: per program, charge and window: participants, matched sets, re-arrest
  risks and the risk ratio with its interval, treatment uptake and completion after the first session;
- ``area_month_treatment_mart``: per neighborhood and period (year by default): admissions and the criminal-justice
  referral share, discharges and completion, returns to treatment within a year;
- ``curve_mart``: Kaplan-Meier survival on a day grid, only where enough people are still at risk.

``threshold`` is the small-cell threshold: counts in 1..threshold never appear (see ``suppression``).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from tasks.outcomes.suppression import suppress_small_cells
from tasks.outcomes.treatment import rate_table, referral_shares

RR_COLUMNS = ("risk_ratio", "ci_low", "ci_high")
PROGRAM_MART_COLUMNS = (
    "program_id", "charge", "window_months", "n_participants", "n_sets", "n_participant_events", "participant_risk",
    "n_comparison_people", "n_comparison_events", "comparison_risk", *RR_COLUMNS,
    "n_uptake_participants", "n_admitted", "uptake", "n_discharges", "n_completed", "completion_rate",
    "is_suppressed", "is_synthetic",
)


def participant_completion(participation: pd.DataFrame, episodes: pd.DataFrame) -> pd.DataFrame:
    """Return per program: discharges (and completions) of participants' admissions that began on or
    after their first session. ``episodes``: ``tasks.outcomes.linkage.treatment_episodes`` output."""
    e = episodes.dropna(subset=["discharged_on", "is_completed"])
    m = participation.merge(e, left_on="person_key", right_on="client_key", how="inner")
    m = m[m["admitted_on"] >= m["first_session_on"]]
    return rate_table(m, ["program_id"], "is_completed", 0.05, "n_discharges", "n_completed", "completion_rate")


def program_outcomes_mart(risk_ratios: pd.DataFrame, participation: pd.DataFrame, uptake: pd.DataFrame,
                          completion: pd.DataFrame, threshold: int, is_synthetic: bool) -> pd.DataFrame:
    """Return PROGRAM_MART_COLUMNS, one row per program, charge and window, suppressed.

    Inputs: ``risk_ratio.risk_ratio_table`` (by program), participations, ``treatment.treatment_uptake``
    and ``participant_completion``.
    """
    n = participation.groupby("program_id")["person_key"].nunique().rename("n_participants")
    up = uptake.rename(columns={"n_participants": "n_uptake_participants"})[
        ["program_id", "n_uptake_participants", "n_admitted", "uptake"]]
    out = (risk_ratios.merge(n, left_on="program_id", right_index=True, how="left")
           .merge(up, on="program_id", how="left")
           .merge(completion[["program_id", "n_discharges", "n_completed", "completion_rate"]], on="program_id",
                  how="left"))
    risk = ["participant_risk", *RR_COLUMNS]
    out = suppress_small_cells(
        out, ["n_participants", "n_sets", "n_participant_events", "n_comparison_people", "n_comparison_events",
              "n_uptake_participants", "n_admitted", "n_discharges", "n_completed"], threshold,
        dependents={"n_sets": risk, "n_participant_events": risk, "n_comparison_events": ["comparison_risk", *RR_COLUMNS],
                    "n_comparison_people": ["comparison_risk", *RR_COLUMNS],
                    "n_uptake_participants": ["uptake"], "n_admitted": ["uptake"],
                    "n_discharges": ["completion_rate"], "n_completed": ["completion_rate"]},
        complements=[("n_sets", "n_participant_events"), ("n_uptake_participants", "n_admitted"),
                     ("n_discharges", "n_completed")])
    out["is_synthetic"] = bool(is_synthetic)
    return out[list(PROGRAM_MART_COLUMNS)]


def area_month_treatment_mart(admissions: pd.DataFrame, discharges: pd.DataFrame, returns: pd.DataFrame,
                              threshold: int, is_synthetic: bool, freq: str = "Y") -> pd.DataFrame:
    """Return per neighborhood_id and period (``month``: its first day): n_admissions,
    n_criminal_justice, cj_share (+ interval), n_discharges, n_completed, completion_rate,
    n_returns_followed, n_returned, return_rate; suppressed.

    Discharges and returns are dated by discharge and placed in the admission's area. ``freq``:
    'M', 'Q' or 'Y' (default). NOTE: on the demo (20,000 admissions, 77 areas, threshold 10) every
    area-month row and 97% of area-quarter rows hold a count in 1..10 (or a small complement); by
    year 60% of rows are fully shown. The unsuppressed monthly shares (restricted) are
    ``treatment.referral_shares``.
    """
    cj = referral_shares(admissions, freq=freq)
    d = discharges.merge(admissions[["admission_id", "neighborhood_id"]], on="admission_id", how="left")
    d = d.dropna(subset=["discharged_on"]).assign(period=lambda f: f["discharged_on"].dt.to_period(freq).dt.start_time)
    done = rate_table(d, ["neighborhood_id", "period"], "is_completed", 0.05, "n_discharges", "n_completed",
                      "completion_rate")
    r = returns[returns["has_followup"].fillna(False).astype(bool)].dropna(subset=["discharged_on"])
    r = r.assign(period=r["discharged_on"].dt.to_period(freq).dt.start_time)
    back = rate_table(r, ["neighborhood_id", "period"], "is_returned", 0.05, "n_returns_followed", "n_returned",
                      "return_rate")
    keys = ["neighborhood_id", "period"]
    out = cj.merge(done.drop(columns=["completion_rate_ci_low", "completion_rate_ci_high"]), on=keys, how="outer")
    out = out.merge(back.drop(columns=["return_rate_ci_low", "return_rate_ci_high"]), on=keys, how="outer")
    out = out.dropna(subset=["neighborhood_id"]).sort_values(keys).reset_index(drop=True)
    out = suppress_small_cells(
        out, ["n_admissions", "n_criminal_justice", "n_discharges", "n_completed", "n_returns_followed", "n_returned"],
        threshold,
        dependents={"n_admissions": ["cj_share", "cj_share_ci_low", "cj_share_ci_high"],
                    "n_criminal_justice": ["cj_share", "cj_share_ci_low", "cj_share_ci_high"],
                    "n_discharges": ["completion_rate"], "n_completed": ["completion_rate"],
                    "n_returns_followed": ["return_rate"], "n_returned": ["return_rate"]},
        complements=[("n_admissions", "n_criminal_justice"), ("n_discharges", "n_completed"),
                     ("n_returns_followed", "n_returned")])
    return out.rename(columns={"period": "month"}).assign(is_synthetic=bool(is_synthetic))


def curve_mart(curves: pd.DataFrame, threshold: int, grid_days: int = 30, max_days: int = 730,
               is_synthetic: bool = True) -> pd.DataFrame:
    """Return survival on a grid (day 0, grid_days, ...): program_id, role, charge, day, survival,
    ci_low, ci_high, n_at_risk; a point is kept only while more than ``threshold`` people (weighted
    for the comparison) are at risk, and no event counts are published."""
    rows = []
    grid = np.arange(0, max_days + 1, grid_days, dtype="float64")
    for key, c in curves.groupby(["program_id", "role", "charge"], sort=True):
        c = c.sort_values("day")
        for day in grid:
            past = c[c["day"] <= day]
            ahead = c[c["day"] >= day]
            at_risk = float(ahead["n_at_risk"].iloc[0]) if len(ahead) else 0.0
            if at_risk <= threshold:
                break
            s = past.iloc[-1] if len(past) else None
            rows.append({"program_id": key[0], "role": key[1], "charge": key[2], "day": int(day),
                         "survival": 1.0 if s is None else s["survival"], "ci_low": 1.0 if s is None else s["ci_low"],
                         "ci_high": 1.0 if s is None else s["ci_high"], "n_at_risk": int(round(at_risk))})
    return pd.DataFrame(rows, columns=["program_id", "role", "charge", "day", "survival", "ci_low", "ci_high",
                                       "n_at_risk"]).assign(is_synthetic=bool(is_synthetic))

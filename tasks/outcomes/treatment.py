"""Treatment outcomes: return to treatment, completion, criminal-justice referral shares, uptake.

Proportions come with Wilson score intervals (statsmodels ``proportion_confint``). Inputs are the
canonical admissions (fct_treatment_admissions) and provider discharges (fct_treatment_discharges),
person-level; outputs are aggregates except ``return_to_treatment`` (one row per discharge).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from statsmodels.stats.proportion import proportion_confint

from schemas.teds_codes import CRIMINAL_JUSTICE_REFERRAL

RETURN_COLUMNS = ("admission_id", "client_key", "neighborhood_id", "discharged_on", "is_completed",
                  "has_followup", "is_returned", "days_to_return")


def rate_table(frame: pd.DataFrame, by: list[str], numerator: str, alpha: float = 0.05,
               count_name: str = "n", events_name: str = "n_events", rate_name: str = "rate") -> pd.DataFrame:
    """Return per group: count, events (``numerator`` true; nulls are not counted in either), rate,
    ``<rate>_ci_low`` / ``<rate>_ci_high`` (Wilson). ``by`` may be empty (one overall row)."""
    f = frame.dropna(subset=[numerator])
    flag = f[numerator].astype(bool)
    if by:
        g = flag.groupby([f[c] for c in by], sort=True, dropna=False)
        out = pd.DataFrame({count_name: g.size(), events_name: g.sum()}).reset_index()
    else:
        out = pd.DataFrame({count_name: [len(flag)], events_name: [int(flag.sum())]})
    n, k = out[count_name].to_numpy(dtype="int64"), out[events_name].to_numpy(dtype="int64")
    lo, hi = proportion_confint(k, np.maximum(n, 1), alpha=alpha, method="wilson")
    out[rate_name] = np.where(n > 0, k / np.maximum(n, 1), np.nan)
    out[f"{rate_name}_ci_low"] = np.where(n > 0, lo, np.nan)
    out[f"{rate_name}_ci_high"] = np.where(n > 0, hi, np.nan)
    return out.astype({count_name: "int64", events_name: "int64"})


def return_to_treatment(admissions: pd.DataFrame, discharges: pd.DataFrame, data_end: pd.Timestamp,
                        window_days: int = 365) -> pd.DataFrame:
    """Return one row per discharge (RETURN_COLUMNS): did the client start another admission within
    ``window_days`` after the discharge day? ``has_followup`` is false (and ``is_returned`` null)
    when the window runs past ``data_end``. The area is the admission's (residence)."""
    a = admissions.dropna(subset=["client_key", "admitted_on"])[["admission_id", "client_key", "admitted_on",
                                                                 "neighborhood_id"]]
    d = discharges.dropna(subset=["client_key", "discharged_on"])[["admission_id", "client_key", "discharged_on",
                                                                   "is_completed"]]
    d = d.merge(a[["admission_id", "neighborhood_id"]], on="admission_id", how="left")
    left = d.reset_index().sort_values("discharged_on", kind="stable").astype({"discharged_on": "datetime64[us]"})
    right = a[["client_key", "admitted_on"]].astype({"admitted_on": "datetime64[us]"}).sort_values("admitted_on")
    nxt = pd.merge_asof(left, right, left_on="discharged_on", right_on="admitted_on", by="client_key",
                        direction="forward", allow_exact_matches=False).set_index("index").reindex(d.index)
    days = (nxt["admitted_on"] - nxt["discharged_on"]).dt.days
    has = (d["discharged_on"] + pd.Timedelta(days=window_days)) <= pd.Timestamp(data_end)
    returned = (days.notna() & (days <= window_days)).astype("boolean").mask(~has)
    out = d.assign(has_followup=has.astype("boolean"), is_returned=returned,
                   days_to_return=days.where(days <= window_days).astype("Int64"))
    return out[list(RETURN_COLUMNS)].reset_index(drop=True)


def completion_rates(discharges: pd.DataFrame, admissions: pd.DataFrame | None = None,
                     by: tuple[str, ...] = ("neighborhood_id",), alpha: float = 0.05) -> pd.DataFrame:
    """Return per group: n_discharges, n_completed, completion_rate and its Wilson interval.

    Denominator: every discharge with a known reason (transfers included, as TEDS-D reports
    completion). Groups may use admission columns (``neighborhood_id``, ``referral_source``):
    pass ``admissions`` to attach them by admission_id.
    """
    d = discharges
    if admissions is not None:
        extra = [c for c in by if c not in d.columns]
        d = d.merge(admissions[["admission_id", *extra]], on="admission_id", how="left")
    return rate_table(d, list(by), "is_completed", alpha, "n_discharges", "n_completed", "completion_rate")


def referral_shares(admissions: pd.DataFrame, by_area: bool = True, freq: str = "M", alpha: float = 0.05) -> pd.DataFrame:
    """Return per area (optional) and period: n_admissions, n_criminal_justice, cj_share and its
    Wilson interval. Admissions with a missing referral source (-9 or null) are left out."""
    a = admissions.dropna(subset=["admitted_on", "referral_source"])
    a = a[a["referral_source"] > 0]
    a = a.assign(period=a["admitted_on"].dt.to_period(freq).dt.start_time,
                 is_cj=a["referral_source"] == CRIMINAL_JUSTICE_REFERRAL)
    by = ["neighborhood_id", "period"] if by_area else ["period"]
    return rate_table(a, by, "is_cj", alpha, "n_admissions", "n_criminal_justice", "cj_share")


def treatment_uptake(participation: pd.DataFrame, admissions: pd.DataFrame, data_end: pd.Timestamp,
                     window_months: int = 12, alpha: float = 0.05) -> pd.DataFrame:
    """Return per program: participants with full follow-up, those admitted to treatment within
    ``window_months`` after their first session (``n_admitted``), the share and its interval."""
    p = participation.assign(end=participation["first_session_on"] + pd.DateOffset(months=window_months))
    p = p[p["end"] <= pd.Timestamp(data_end)]
    a = admissions.dropna(subset=["client_key", "admitted_on"])[["client_key", "admitted_on"]]
    m = p.reset_index().merge(a, left_on="person_key", right_on="client_key", how="left")
    hit = (m["admitted_on"] > m["first_session_on"]) & (m["admitted_on"] <= m["end"])
    p = p.assign(is_admitted=hit.groupby(m["index"]).any().reindex(p.index, fill_value=False).to_numpy())
    return rate_table(p, ["program_id"], "is_admitted", alpha, "n_participants", "n_admitted", "uptake")

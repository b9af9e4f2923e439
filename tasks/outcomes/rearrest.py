"""Re-arrest after the index date for the members of matched sets.

A re-arrest is an arrest dated after the index day (the index day itself is not follow-up) and
within ``w`` calendar months of it. A set counts for window ``w`` only when the data cover the
whole window (index + w months <= ``data_end``), so every risk is a complete-follow-up risk.
"""
from __future__ import annotations

import pandas as pd

WINDOWS_MONTHS = (6, 12)
CHARGES = ("any", "drug")


def rearrest_outcomes(matched: pd.DataFrame, arrests: pd.DataFrame, data_end: pd.Timestamp,
                      windows: tuple[int, ...] = WINDOWS_MONTHS) -> pd.DataFrame:
    """Return the matched rows (same order) plus, per charge (any, drug): ``days_to_<c>`` (days to the
    first re-arrest, null if none by ``data_end``), ``followup_days`` (index to data_end), and per
    window ``w``: ``has_followup_<w>m`` and ``is_rearrested_<c>_<w>m`` (null without follow-up)."""
    end = pd.Timestamp(data_end).normalize()
    out = matched.copy()
    out["followup_days"] = (end - out["index_on"]).dt.days.astype("int64")
    base = arrests.dropna(subset=["person_key", "arrested_on"])
    for charge in CHARGES:
        a = base if charge == "any" else base[base["is_drug_charge"].fillna(False).astype(bool)]
        out[f"days_to_{charge}"] = _days_to_next(out, a, end)
    for w in windows:
        horizon = out["index_on"] + pd.DateOffset(months=w)
        has = (horizon <= end).astype("boolean")
        out[f"has_followup_{w}m"] = has
        limit = (horizon - out["index_on"]).dt.days
        for charge in CHARGES:
            days = out[f"days_to_{charge}"]
            event = (days.notna() & (days <= limit)).astype("boolean")
            out[f"is_rearrested_{charge}_{w}m"] = event.mask(~has)
    return out


def _days_to_next(members: pd.DataFrame, arrests: pd.DataFrame, end: pd.Timestamp) -> pd.Series:
    left = members[["person_key", "index_on"]].reset_index().sort_values("index_on", kind="stable")
    right = arrests[["person_key", "arrested_on"]].astype({"arrested_on": "datetime64[us]"})
    right = right.sort_values("arrested_on", kind="stable")
    nxt = pd.merge_asof(left.astype({"index_on": "datetime64[us]"}), right, left_on="index_on",
                        right_on="arrested_on", by="person_key", direction="forward", allow_exact_matches=False)
    nxt = nxt.set_index("index")
    days = (nxt["arrested_on"] - nxt["index_on"]).dt.days
    days = days.where(nxt["arrested_on"] <= end)
    return days.reindex(members.index).astype("Int64")

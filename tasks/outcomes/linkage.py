"""Linkage by person key: program participations, treatment episodes, and one linked row per person.

Keys are the feeds' keyed HMACs: roster ``participant_key``, admissions/discharges ``client_key``,
arrests ``person_key``. They agree because every feed pseudonymizes the same raw identifier with
the same key; nothing here sees an identity. All outputs are person-level: restricted tables only.
"""
from __future__ import annotations

import pandas as pd

PARTICIPATION_COLUMNS = ("person_key", "program_id", "first_session_on", "last_session_on", "n_sessions")
LINKED_PERSON_COLUMNS = (
    "person_key", "is_participant", "first_program_id", "first_session_on", "n_programs",
    "n_arrests", "first_arrested_on", "last_arrested_on", "n_drug_arrests",
    "n_admissions", "first_admitted_on", "n_discharges", "n_completed",
)


def participations(roster: pd.DataFrame, sessions: pd.DataFrame) -> pd.DataFrame:
    """Return one row per person and program: person_key, program_id, first/last session date, n_sessions.

    ``roster``: session_id, participant_key (fct_session_roster); ``sessions``: session_id,
    program_id, session_date (fct_program_sessions). Sign-ins of unknown sessions are left out.
    """
    s = sessions[["session_id", "program_id", "session_date"]].drop_duplicates("session_id")
    r = roster[["session_id", "participant_key"]].merge(s, on="session_id", how="inner")
    out = (r.groupby(["participant_key", "program_id"], sort=True)
           .agg(first_session_on=("session_date", "min"), last_session_on=("session_date", "max"),
                n_sessions=("session_id", "nunique"))
           .reset_index().rename(columns={"participant_key": "person_key"}))
    return out.astype({"first_session_on": "datetime64[us]", "last_session_on": "datetime64[us]",
                       "n_sessions": "int64"})[list(PARTICIPATION_COLUMNS)]


def treatment_episodes(admissions: pd.DataFrame, discharges: pd.DataFrame) -> pd.DataFrame:
    """Return one row per admission with its discharge (if any): admission_id, client_key,
    admitted_on, neighborhood_id, referral_source, discharged_on, discharge_reason, is_completed.

    The discharge's own client key must agree with the admission's; a disagreeing discharge is
    not attached (its key is reported by ``unmatched_discharges``).
    """
    a = admissions[["admission_id", "client_key", "admitted_on", "neighborhood_id", "referral_source"]]
    d = discharges[["admission_id", "client_key", "discharged_on", "discharge_reason", "is_completed"]]
    out = a.merge(d.rename(columns={"client_key": "discharge_client_key"}), on="admission_id", how="left")
    disagree = out["discharge_client_key"].notna() & (out["discharge_client_key"] != out["client_key"])
    out.loc[disagree, ["discharged_on", "discharge_reason", "is_completed"]] = None
    return out.drop(columns=["discharge_client_key"]).astype({"discharged_on": "datetime64[us]",
                                                             "discharge_reason": "Int64", "is_completed": "boolean"})


def unmatched_discharges(admissions: pd.DataFrame, discharges: pd.DataFrame) -> pd.DataFrame:
    """Return discharges whose admission is unknown or whose client key disagrees with it (admission_id, reason)."""
    keys = admissions.set_index("admission_id")["client_key"]
    known = discharges["admission_id"].isin(keys.index)
    other = known & (discharges["admission_id"].map(keys) != discharges["client_key"])
    reason = pd.Series(None, index=discharges.index, dtype="str")
    reason[~known] = "no admission with this admission_id"
    reason[other] = "client key differs from the admission's"
    return pd.DataFrame({"admission_id": discharges["admission_id"], "reason": reason}).dropna(subset=["reason"])


def link_persons(participation: pd.DataFrame, arrests: pd.DataFrame, admissions: pd.DataFrame,
                 discharges: pd.DataFrame) -> pd.DataFrame:
    """Return one row per person key seen in any feed (LINKED_PERSON_COLUMNS): participation,
    arrest and treatment counts and dates. Restricted: it holds every linked person."""
    p = (participation.sort_values("first_session_on", kind="stable").groupby("person_key")
         .agg(first_program_id=("program_id", "first"), first_session_on=("first_session_on", "min"),
              n_programs=("program_id", "nunique")))
    a = arrests.dropna(subset=["person_key"]).groupby("person_key").agg(
        n_arrests=("arrest_id", "size"), first_arrested_on=("arrested_on", "min"),
        last_arrested_on=("arrested_on", "max"),
        n_drug_arrests=("is_drug_charge", lambda s: int(s.fillna(False).astype(bool).sum())))
    t = admissions.dropna(subset=["client_key"]).groupby("client_key").agg(
        n_admissions=("admission_id", "size"), first_admitted_on=("admitted_on", "min"))
    d = discharges.dropna(subset=["client_key"]).groupby("client_key").agg(
        n_discharges=("admission_id", "size"),
        n_completed=("is_completed", lambda s: int(s.fillna(False).astype(bool).sum())))
    out = p.join([a, t.rename_axis("person_key"), d.rename_axis("person_key")], how="outer")
    out = out.rename_axis("person_key").reset_index()
    out["is_participant"] = out["first_program_id"].notna()
    for c in ("n_programs", "n_arrests", "n_drug_arrests", "n_admissions", "n_discharges", "n_completed"):
        out[c] = out[c].astype("Float64").fillna(0).astype("int64")  # an empty feed aggregates to boolean
    return out[list(LINKED_PERSON_COLUMNS)]

"""Re-arrest cohorts: participants at their index date and a comparison of non-participants matched
exactly on area, age group, sex and prior arrests (risk-set matching, 1:k without replacement).

Definitions (the method note in docs explains why):
- index date: a participant's first session (``index="first_session"``) or last session (``"exit"``);
- prior arrests: arrests in the ``PRIOR_WINDOW_MONTHS`` before the index date (index day excluded);
  the cohort is people with at least ``min_prior`` of them (re-arrest presumes an arrest);
- area, sex: of the most recent prior arrest; age group: TEDS AGE group of the age at the index date
  (age at that arrest plus the time since);
- a comparison person has not taken part in any program on or before the participant's index date
  (not yet treated; a later participant may serve, as in sequential trial emulation), has the same
  profile *at that date* and takes it as their own index date. Excluding everyone who ever takes
  part instead biases the comparison: programs recruit on arrests, so removing future participants
  removes people with more arrests than their profile shows. Matching is with
  replacement across sets (risk-set sampling): a person may serve in several sets, never twice in
  one. Without replacement the people with many arrests, who are eligible at many dates, get used
  up first and the comparison drifts towards lower propensity (measured on the demo: frailty 1.58
  vs 1.69 in the eligible pool). Estimates must therefore cluster on the person (``estimates``).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from schemas.arrests import age_group_code

PRIOR_WINDOW_MONTHS = 12
PRIOR_CAP = 3  # prior arrests are matched as 1, 2, 3+
MATCH_KEYS = ("neighborhood_id", "age_group", "sex", "prior_band")
INDEX_COLUMNS = {"first_session": "first_session_on", "exit": "last_session_on"}
MATCHED_COLUMNS = ("set_id", "program_id", "person_key", "role", "index_on", *MATCH_KEYS, "n_prior", "weight")


class Matching(NamedTuple):
    matched: pd.DataFrame  # MATCHED_COLUMNS: one row per participant or comparison person in a matched set
    unmatched: pd.DataFrame  # program_id, person_key, index_on, reason: participants left out and why


class _Arrests(NamedTuple):
    day: np.ndarray  # datetime64[D], sorted
    person: np.ndarray  # person code per arrest
    area: np.ndarray  # area code per arrest
    age: np.ndarray  # age at arrest (float, nan unknown)
    sex: np.ndarray  # float, nan unknown
    keys: pd.Index  # person code -> person_key
    areas: pd.Index  # area code -> neighborhood_id


class _Profiles(NamedTuple):
    people: np.ndarray  # person codes (sorted) with an arrest in the window
    n_prior: np.ndarray
    area: np.ndarray
    age_group: np.ndarray  # float, nan unknown
    sex: np.ndarray
    band: np.ndarray


def _prepare(arrests: pd.DataFrame) -> _Arrests:
    a = arrests.dropna(subset=["person_key", "arrested_on"]).sort_values("arrested_on", kind="stable")
    codes, keys = pd.factorize(a["person_key"], sort=True)
    area, areas = pd.factorize(a["neighborhood_id"].astype("str"), sort=True)
    return _Arrests(a["arrested_on"].to_numpy().astype("datetime64[D]"), codes, area,
                    a["age_at_arrest"].astype("float64").to_numpy(), a["sex"].astype("float64").to_numpy(),
                    pd.Index(keys), pd.Index(areas))


def _profiles(a: _Arrests, index_on: pd.Timestamp) -> _Profiles:
    end = np.datetime64(pd.Timestamp(index_on).date(), "D")
    start = np.datetime64((pd.Timestamp(index_on) - pd.DateOffset(months=PRIOR_WINDOW_MONTHS)).date(), "D")
    i0, i1 = np.searchsorted(a.day, start, "left"), np.searchsorted(a.day, end, "left")
    codes = a.person[i0:i1]
    people, counts = np.unique(codes, return_counts=True)
    _, from_end = np.unique(codes[::-1], return_index=True)
    at = i1 - 1 - from_end  # each person's most recent arrest in the window (arrests are date-sorted)
    # age_at_arrest is whole years: the best guess of the exact age is half a year more.
    age = np.floor(a.age[at] + 0.5 + (end - a.day[at]).astype("int64") / 365.25)
    group = age_group_code(pd.Series(age)).astype("float64").to_numpy()
    return _Profiles(people, counts, a.area[at], group, a.sex[at], np.minimum(counts, PRIOR_CAP))


def profiles_at(arrests: pd.DataFrame, index_on: pd.Timestamp) -> pd.DataFrame:
    """Return one row per person with an arrest in the prior window of ``index_on``: person_key,
    n_prior, neighborhood_id, age_group, sex, prior_band (their profile at that date)."""
    a = _prepare(arrests)
    p = _profiles(a, index_on)
    return _typed_profiles(pd.DataFrame({
        "person_key": a.keys[p.people], "n_prior": p.n_prior, "neighborhood_id": a.areas[p.area],
        "age_group": p.age_group, "sex": p.sex, "prior_band": p.band}))


def match_comparison(participations: pd.DataFrame, arrests: pd.DataFrame, *, k: int = 5, seed: int = 0,
                     index: str = "first_session", min_prior: int = 1) -> Matching:
    """Return matched sets (one participant and up to ``k`` comparison people each) and the
    participants that could not be matched, with the reason.

    ``participations``: person_key, program_id, first_session_on, last_session_on (one row per
    person and program; ``tasks.outcomes.linkage.participations``). ``arrests``: person_key,
    arrested_on, neighborhood_id, age_at_arrest, sex (canonical arrests, loaded rows only).
    Comparison weight is 1 / (comparison people in the set), so each set counts once.
    """
    if index not in INDEX_COLUMNS:
        raise ValueError(f"index must be one of {sorted(INDEX_COLUMNS)}, not {index!r}")
    a = _prepare(arrests)
    parts = participations.assign(index_on=pd.to_datetime(participations[INDEX_COLUMNS[index]]).dt.normalize())
    parts = parts.dropna(subset=["person_key", "index_on"]).sort_values(["index_on", "program_id", "person_key"])
    parts = parts.reset_index(drop=True)
    code_of = a.keys.get_indexer(parts["person_key"])
    joined = np.full(len(a.keys), np.datetime64("NaT"), dtype="datetime64[D]")  # first session of any program
    firsts = parts.groupby("person_key")["first_session_on"].min()
    known = a.keys.get_indexer(firsts.index)
    joined[known[known >= 0]] = pd.to_datetime(firsts[known >= 0]).to_numpy().astype("datetime64[D]")
    rng = np.random.default_rng(seed)
    rows, unmatched = [], []
    for d, group in parts.groupby("index_on", sort=True):
        p = _profiles(a, d)
        eligible = ~(joined[p.people] <= np.datetime64(d.date(), "D"))  # NaT compares False: never joined
        for set_id in group.index:
            at = np.searchsorted(p.people, code_of[set_id])
            found = code_of[set_id] >= 0 and at < len(p.people) and p.people[at] == code_of[set_id]
            reason = _unmatchable(p, at if found else None, min_prior)
            if reason is None:
                same = eligible & (p.area == p.area[at]) & (p.age_group == p.age_group[at]) & \
                    (p.sex == p.sex[at]) & (p.band == p.band[at])
                pool = np.flatnonzero(same)
                if len(pool) == 0:
                    reason = "no comparison person with the same profile"
            if reason is not None:
                unmatched.append((parts.at[set_id, "program_id"], parts.at[set_id, "person_key"], d, reason))
                continue
            chosen = np.sort(rng.choice(pool, size=min(k, len(pool)), replace=False))
            for pos, role, weight in [(at, "participant", 1.0), *((c, "comparison", 1.0 / len(chosen)) for c in chosen)]:
                rows.append((set_id, parts.at[set_id, "program_id"], p.people[pos], role, d, p.area[pos],
                             p.age_group[pos], p.sex[pos], p.band[pos], p.n_prior[pos], weight))
    matched = pd.DataFrame(rows, columns=["set_id", "program_id", "person", "role", "index_on", "area", "age_group",
                                          "sex", "prior_band", "n_prior", "weight"])
    codes = matched["person"].to_numpy(dtype="int64")
    matched = matched.assign(person_key=a.keys[codes].to_numpy(dtype=object),
                             neighborhood_id=a.areas[matched["area"].to_numpy(dtype="int64")].to_numpy(dtype=object))
    lost = pd.DataFrame(unmatched, columns=["program_id", "person_key", "index_on", "reason"])
    return Matching(_typed(matched[list(MATCHED_COLUMNS)]), lost)


def _unmatchable(p: _Profiles, at: int | None, min_prior: int) -> str | None:
    if at is None or p.n_prior[at] < min_prior:
        return f"fewer than {min_prior} prior arrests"
    if np.isnan(p.age_group[at]) or np.isnan(p.sex[at]):
        return "age group or sex unknown"
    return None


def _typed_profiles(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.astype({"person_key": "str", "n_prior": "int64", "neighborhood_id": "str", "age_group": "Int64",
                         "sex": "Int64", "prior_band": "int64"})


def _typed(m: pd.DataFrame) -> pd.DataFrame:
    return m.astype({"set_id": "int64", "program_id": "str", "person_key": "str", "role": "str",
                     "index_on": "datetime64[us]", "neighborhood_id": "str", "age_group": "Int64", "sex": "Int64",
                     "prior_band": "int64", "n_prior": "int64", "weight": "float64"})

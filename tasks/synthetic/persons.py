"""The demo person register (SYNTHETIC): one set of people behind the rosters, admissions and arrests.

Real person-level arrests are not public, so arrests are generated, and they must belong to the
same people as the demo rosters and admissions, with the same raw ids, so the three feeds'
keyed HMACs (``participant_key``, ``client_key``, ``person_key``) agree under any key. How:

1. **Pool**: each area gets residents at risk of arrest (enough for ``RATE_PER_PERSON_YEAR``
   arrests each per year on average), with sex, birth date and a gamma frailty (heterogeneous
   propensity to be arrested).
2. **Arrests**: every real arrest of ``fct_incidents`` (date, area, IUCR) is given to a resident
   of its area, drawn with weight frailty x age factor x sex factor at that month. So counts per
   area and month and the charge mix are the real ones.
3. **Participants**: each roster participant (raw ``PARTICIPANT_ID``) becomes a resident of the
   program's area of eligible age, drawn with weight ``SELECTION_WEIGHTS[prior arrests]``, the
   arrests in the ``PRIOR_WINDOW_MONTHS`` before the first session (capped). Selection depends on
   observed history only, as diversion programs recruit, so matching on it can remove it.
4. **Clients**: each admissions client (raw ``CLIENT_ID``) becomes a resident of their area with
   the export's sex and age group at first admission, drawn with weight 1 + arrests in the year
   before the first admission (+ 4 x arrests in the 120 days before a court referral).
5. **Ids**: participants keep their roster id, clients their client id, other arrested residents
   get ``R`` + 7 digits. Participants and clients are different people; participants who enter
   treatment get *additional* admissions under their roster id (``tasks.synthetic.arrests``), so
   no file written by another generator is ever rewritten.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from tasks.outcomes.cohort import PRIOR_WINDOW_MONTHS

RATE_PER_PERSON_YEAR = 0.3
FRAILTY_SHAPE = 0.6  # gamma shape of the individual propensity (mean 1); smaller = more unequal
SEX_FACTOR = {1: 3.0, 2: 1.0}  # about 3 in 4 arrestees are male
# Relative arrest rate by age (the age-crime curve): lower bounds of the brackets and factors.
AGE_BRACKETS = np.array([12, 15, 18, 25, 35, 45, 55, 65])
AGE_FACTORS = np.array([0.3, 0.8, 1.6, 1.3, 0.9, 0.7, 0.4, 0.15])
# Ages of the pool on REFERENCE_DAY: bracket lower bounds, upper bound, and shares.
POOL_AGE_EDGES = np.array([12, 18, 25, 35, 45, 55, 71])
POOL_AGE_SHARES = np.array([0.10, 0.18, 0.22, 0.18, 0.16, 0.16])
REFERENCE_DAY = pd.Timestamp("2017-01-01")
# Weight of a resident to be a participant by prior arrests 0, 1, 2, 3+ (last applies above).
SELECTION_WEIGHTS = (0.3, 1.0, 2.0, 3.0)
ELIGIBLE_AGES = {"youth_program": (15, 24)}
DEFAULT_AGES = (18, 64)
# Ages of the TEDS AGE codes (1 = 12-14 ... 12 = 65+), for matching clients.
TEDS_AGE_RANGES = {1: (12, 14), 2: (15, 17), 3: (18, 20), 4: (21, 24), 5: (25, 29), 6: (30, 34), 7: (35, 39),
                   8: (40, 44), 9: (45, 49), 10: (50, 54), 11: (55, 64), 12: (65, 90)}


class Register(NamedTuple):
    """People and their (clean, pre-effect) arrests."""

    persons: pd.DataFrame  # person (int), person_id (raw id or null), role, neighborhood_id, sex, born_on, frailty
    arrests: pd.DataFrame  # person, arrested_on, neighborhood_id, charge_code (one per real arrest)
    participants: pd.DataFrame  # person, person_id, program_id, program_type, first_session_on, last_session_on


def build_pool(skeleton: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Return residents at risk: person, neighborhood_id, sex (1/2), born_on, frailty (one row each)."""
    days = (skeleton["arrested_on"].max() - skeleton["arrested_on"].min()).days + 1
    per_area = skeleton["neighborhood_id"].value_counts().sort_index()
    size = np.ceil(per_area.to_numpy() / (days / 365.25 * RATE_PER_PERSON_YEAR)).astype(int)
    n = int(size.sum())
    bracket = rng.choice(len(POOL_AGE_SHARES), size=n, p=POOL_AGE_SHARES)
    age = rng.uniform(POOL_AGE_EDGES[bracket], POOL_AGE_EDGES[bracket + 1])
    born = REFERENCE_DAY - pd.to_timedelta(np.round(age * 365.25), unit="D")
    return pd.DataFrame({
        "person": np.arange(n),
        "neighborhood_id": np.repeat(per_area.index.to_numpy(dtype=object), size).astype("str"),
        "sex": rng.choice([1, 2], size=n),
        "born_on": born.astype("datetime64[us]"),
        "frailty": rng.gamma(FRAILTY_SHAPE, 1 / FRAILTY_SHAPE, size=n),
    })


def _age_factor(age_years: np.ndarray) -> np.ndarray:
    idx = np.searchsorted(AGE_BRACKETS, age_years, side="right") - 1
    return np.where(idx < 0, 0.0, AGE_FACTORS[np.clip(idx, 0, None)])


def allocate_arrests(skeleton: pd.DataFrame, pool: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Return the skeleton's arrests (same rows, date order) each given to a resident of its area."""
    sk = skeleton.sort_values(["arrested_on", "neighborhood_id", "charge_code"], kind="stable").reset_index(drop=True)
    month = sk["arrested_on"].dt.to_period("M")
    owner = np.full(len(sk), -1, dtype=np.int64)
    for area, residents in pool.groupby("neighborhood_id", sort=True):
        base = residents["frailty"].to_numpy() * residents["sex"].map(SEX_FACTOR).to_numpy()
        born = residents["born_on"].to_numpy()
        rows = np.flatnonzero((sk["neighborhood_id"] == area).to_numpy())
        for m, pos in pd.Series(rows).groupby(month.iloc[rows].to_numpy()):
            mid = m.to_timestamp() + pd.Timedelta(days=14)
            age = (mid.to_datetime64() - born) / np.timedelta64(1, "D") / 365.25
            w = base * _age_factor(age)
            owner[pos.to_numpy()] = residents["person"].to_numpy()[rng.choice(len(w), size=len(pos), p=w / w.sum())]
    return sk.assign(person=owner)[["person", "arrested_on", "neighborhood_id", "charge_code"]]


def participations(roster: pd.DataFrame, sessions: pd.DataFrame, programs: pd.DataFrame) -> pd.DataFrame:
    """Return one row per raw participant id: person_id, program_id, program_type, first/last session.

    Inputs are the provider files as text (``tasks.synthetic.programs``); a participant seen in
    several programs keeps the program of their first session.
    """
    s = sessions.assign(session_on=pd.to_datetime(sessions["SESSION_DATE"], errors="coerce"))
    s = s.dropna(subset=["session_on"]).drop_duplicates("SESSION_ID")
    r = roster.merge(s[["SESSION_ID", "PROGRAM_ID", "session_on"]], on="SESSION_ID", how="inner")
    r = r.sort_values(["session_on", "PROGRAM_ID"], kind="stable")
    types = programs.set_index("PROGRAM_ID")["PROGRAM_TYPE"].str.lower().str.replace(r"[^a-z0-9]+", "_", regex=True)
    first = r.groupby("PARTICIPANT_ID", sort=False).agg(program_id=("PROGRAM_ID", "first"),
                                                        first_session_on=("session_on", "min"),
                                                        last_session_on=("session_on", "max"))
    out = first.reset_index().rename(columns={"PARTICIPANT_ID": "person_id"})
    out["program_type"] = out["program_id"].map(types).astype("str")
    return out.sort_values(["first_session_on", "person_id"], kind="stable").reset_index(drop=True)


def _counts_before(arrest_person: np.ndarray, arrest_day: np.ndarray, n_local: int, start, end) -> np.ndarray:
    sel = (arrest_day >= start) & (arrest_day < end)
    return np.bincount(arrest_person[sel], minlength=n_local)


class _Area(NamedTuple):
    residents: np.ndarray  # pool rows living in the area
    person: np.ndarray  # local resident index of each of their arrests
    day: np.ndarray  # datetime64 of each of those arrests
    born: np.ndarray
    sex: np.ndarray


def area_index(pool: pd.DataFrame, arrests: pd.DataFrame) -> dict[str, _Area]:
    """Return per area its residents and their arrests (every arrest went to a resident of its own area)."""
    local = np.empty(len(pool), dtype=np.int64)
    out = {}
    by_area = arrests.groupby("neighborhood_id", sort=True).indices
    for name, residents in pool.groupby("neighborhood_id", sort=True).indices.items():
        local[residents] = np.arange(len(residents))
        rows = by_area.get(name, np.array([], dtype=np.int64))
        out[name] = _Area(residents, local[arrests["person"].to_numpy()[rows]], arrests["arrested_on"].to_numpy()[rows],
                          pool["born_on"].to_numpy()[residents], pool["sex"].to_numpy()[residents])
    return out


def _ages(area: _Area, on: pd.Timestamp) -> np.ndarray:
    return (on.to_datetime64() - area.born) / np.timedelta64(1, "D") / 365.25


def _pick(w: np.ndarray, residents: np.ndarray, taken: np.ndarray, rng: np.random.Generator) -> int:
    cum = np.cumsum(w)
    pick = int(residents[min(int(np.searchsorted(cum, rng.random() * cum[-1], side="right")), len(w) - 1)])
    taken[pick] = True
    return pick


def choose_participants(parts: pd.DataFrame, program_areas: dict, areas: dict[str, _Area], taken: np.ndarray,
                        rng: np.random.Generator) -> np.ndarray:
    """Return, per participation row, the pool person who is that participant (marks them taken)."""
    chosen = np.full(len(parts), -1, dtype=np.int64)
    for name, group in parts.groupby(parts["program_id"].map(program_areas), sort=True):
        area = areas[name]
        for i, row in group.iterrows():
            fs = row["first_session_on"]
            lo, hi = ELIGIBLE_AGES.get(row["program_type"], DEFAULT_AGES)
            age = _ages(area, fs)
            prior = _counts_before(area.person, area.day, len(area.residents),
                                   (fs - pd.DateOffset(months=PRIOR_WINDOW_MONTHS)).to_datetime64(), fs.to_datetime64())
            w = np.asarray(SELECTION_WEIGHTS)[np.minimum(prior, len(SELECTION_WEIGHTS) - 1)]
            w = np.where((age >= lo) & (age < hi + 1) & ~taken[area.residents], w, 0.0)
            if w.sum() == 0:
                raise ValueError(f"area {name}: no eligible resident left for participant {row['person_id']}")
            chosen[parts.index.get_loc(i)] = _pick(w, area.residents, taken, rng)
    return chosen


def client_table(admissions: pd.DataFrame, truth: pd.DataFrame | None) -> pd.DataFrame:
    """Return one row per raw client id of an admissions export (text, as written): person_id,
    first_admitted_on, age_code, sex_code, neighborhood_id (truth's source area, may be null),
    cj_admissions (list of admission dates with PSOURCE 7)."""
    area = None
    if truth is not None:
        area = truth["source_area_id"].astype("str").where(truth["source_area_id"].notna()).to_numpy()
    a = admissions.assign(admitted_on=pd.to_datetime(admissions["ADMIT_DATE"], format="%m/%d/%Y", errors="coerce"),
                          area=area)
    a = a.dropna(subset=["admitted_on", "CLIENT_ID"]).sort_values("admitted_on", kind="stable")
    grouped = a.assign(age=pd.to_numeric(a["AGE"], errors="coerce"),
                       sex=pd.to_numeric(a["GENDER"], errors="coerce")).groupby("CLIENT_ID", sort=True)
    cj = a[pd.to_numeric(a["PSOURCE"], errors="coerce") == 7].groupby("CLIENT_ID")["admitted_on"].agg(list)
    out = pd.DataFrame({
        "first_admitted_on": grouped["admitted_on"].min(), "age_code": grouped["age"].first(),
        "sex_code": grouped["sex"].first(), "neighborhood_id": grouped["area"].first(),
    })
    out["cj_admissions"] = [cj.get(c, []) for c in out.index]
    return out.rename_axis("person_id").reset_index()


def choose_clients(clients: pd.DataFrame, areas: dict[str, _Area], taken: np.ndarray,
                   rng: np.random.Generator) -> np.ndarray:
    """Return, per client row, the pool person who is that client (marks them taken).

    Clients without a known area (ZIP-only or unparseable residences) are placed in an area
    drawn in proportion to its pool.
    """
    names = np.array(sorted(areas), dtype=object)
    sizes = np.array([len(areas[n].residents) for n in names], dtype=float)
    area_of = clients["neighborhood_id"].where(clients["neighborhood_id"].isin(names)).to_numpy(dtype=object)
    unknown = pd.isna(area_of)
    area_of[unknown] = rng.choice(names, size=int(unknown.sum()), p=sizes / sizes.sum())
    chosen = np.full(len(clients), -1, dtype=np.int64)
    year, window = np.timedelta64(365, "D"), np.timedelta64(120, "D")
    firsts = clients["first_admitted_on"].to_numpy().astype("datetime64[D]")
    age_codes = clients["age_code"].fillna(0).astype("int64").to_numpy()
    sex_codes = clients["sex_code"].fillna(-9).astype("int64").to_numpy()
    cj_dates = [np.asarray(d, dtype="datetime64[D]") for d in clients["cj_admissions"]]
    for name, rows in pd.Series(np.arange(len(clients))).groupby(area_of).indices.items():
        area = areas[name]
        n, days = len(area.residents), area.day.astype("datetime64[D]")
        born = area.born.astype("datetime64[D]")
        for pos in rows:
            age = (firsts[pos] - born).astype("int64") / 365.25
            lo, hi = TEDS_AGE_RANGES.get(int(age_codes[pos]), (12, 90))
            ok = (age >= lo) & (age < hi + 1) & ~taken[area.residents]
            if sex_codes[pos] in (1, 2):
                ok &= area.sex == sex_codes[pos]
            if not ok.any():
                ok = ~taken[area.residents] & (age >= 12)
            t = firsts[pos]
            history = _counts_before(area.person, days, n, t - year, t).astype(float)
            for c in cj_dates[pos]:
                history += 4.0 * _counts_before(area.person, days, n, c - window, c)
            chosen[pos] = _pick(ok * (1.0 + history), area.residents, taken, rng)
    return chosen


def build_register(skeleton: pd.DataFrame, participants: pd.DataFrame, program_areas: dict,
                   clients: pd.DataFrame, rng: np.random.Generator) -> Register:
    """Return the register: pool, arrests given to residents, and who the participants and clients are."""
    pool = build_pool(skeleton, rng)
    arrests = allocate_arrests(skeleton, pool, rng)
    areas = area_index(pool, arrests)
    taken = np.zeros(len(pool), dtype=bool)
    part_person = choose_participants(participants, program_areas, areas, taken, rng)
    client_person = choose_clients(clients, areas, taken, rng)
    person_id = pd.Series(pd.NA, index=pool.index, dtype="str")
    role = pd.Series("resident", index=pool.index, dtype="str")
    person_id.iloc[part_person] = participants["person_id"].to_numpy()
    role.iloc[part_person] = "participant"
    person_id.iloc[client_person] = clients["person_id"].to_numpy()
    role.iloc[client_person] = "client"
    arrested = pool.index.isin(arrests["person"].unique()) & person_id.isna().to_numpy()
    person_id[arrested] = [f"R{p:07d}" for p in pool.index[arrested]]
    if person_id.dropna().duplicated().any():
        raise ValueError("register: raw person ids collide across rosters, admissions and residents")
    persons = pool.assign(person_id=person_id, role=role)
    parts = participants.assign(person=part_person)
    return Register(persons, arrests, parts)

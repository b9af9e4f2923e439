"""Incident grain: collapse offense rows (one per incident x offense) into one row per incident,
keeping every offense row for ``fct_incident_offenses``.

The documented rule (README: new city, "Incident grain"):
1. Netting. Rows of one incident and one offense code add up their ``offense_count``; a code is
   *active* when its net count is above 0. A -1 row (St. Louis ``Count``) so reverses a +1 of the
   same incident and code, in the same file or any earlier one, and the sum over all rows equals
   the source's official tally. ``n_offenses`` is the sum of the positive net counts; an
   incident with none left is ``is_reversed`` (kept, counted as no incident, not a drug offense).
2. Pick. The incident row names one active offense: with ``pick = "drug_first"`` a drug offense
   before any other, drug categories in the configured precedence (default manufacture,
   sale_delivery, possession, other_drug, paraphernalia), then the lowest code number (UCR
   hierarchy order in UCR-based codes), then the code text. ``offense_rank`` stores that order
   per row so SQL can apply the same rule.
3. Place and time come from the incident's best-geocoded row (point, snapped, area label, none;
   then file order); flags are true if any row says so; ``reported_at``/``updated_at`` are the latest.

Everything is vectorized (groupby/sort), so a batch of 100k rows collapses in well under a second.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from schemas.incidents import INCIDENT_OFFENSES, INCIDENTS, OFFENSE_COUNT
from tasks.sources.mapped_config import DEFAULT_PRECEDENCE
from tasks.sources.mapped_values import arrow_text

COUNTER_MARK = "#"  # a derived id ending in this is completed with its occurrence number here
CODE_SPAN = 10**10  # offense_rank = category slot * CODE_SPAN + code number
OFFENSE_FIELDS = ("iucr", "primary_type", "description", "offense_category", "is_drug_offense", "nibrs_code",
                  "n_offenses", "is_reversed")
PRECISION_ORDER = {"point": 0, "snapped": 1, "area_label": 2, "none": 3}


@dataclass(frozen=True)
class IncidentGrain:
    """How a source's rows become incidents (from ``[sources.<slug>.offense_rows]`` and derived keys)."""

    offense_rows: bool = False
    occurrence_counter: bool = False
    pick: str = "drug_first"
    code_order: str = "numeric"
    precedence: tuple[str, ...] = DEFAULT_PRECEDENCE

    @property
    def needs_batch_step(self) -> bool:
        """True when the batch path must call ``to_incidents`` (rows are not incidents one to one)."""
        return self.offense_rows or self.occurrence_counter


@dataclass(frozen=True)
class IncidentFrames:
    """What a batch loads: incidents (INCIDENTS, one per incident_id) and offenses (INCIDENT_OFFENSES)."""

    incidents: pd.DataFrame
    offenses: pd.DataFrame


def complete_counters(ids: pd.Series) -> pd.Series:
    """Return ids with a trailing COUNTER_MARK replaced by ``-<n>``, n = occurrence in file order."""
    marked = ids.str.endswith(COUNTER_MARK).fillna(False).to_numpy(dtype=bool)
    if not marked.any():
        return ids
    n = ids[marked].groupby(ids[marked], sort=False).cumcount() + 1
    out = ids.copy()
    out[marked] = ids[marked].str[:-1] + "-" + n.astype("str")
    return out


def offense_rank(category: pd.Series, codes: pd.Series, grain: IncidentGrain) -> pd.Series:
    """Return the pick order of each offense row (lower = named on the incident row first)."""
    if grain.code_order == "numeric":
        digits = pc.extract_regex(pc.utf8_ltrim_whitespace(arrow_text(codes.fillna(""))), r"^(?P<n>\d{1,9})")
        num = pd.to_numeric(pd.Series(pc.struct_field(digits, "n").to_numpy(zero_copy_only=False),
                                      index=codes.index), errors="coerce").fillna(CODE_SPAN - 1)
    else:
        num = pd.Series(0.0, index=codes.index)
    slot = pd.Series(0, index=codes.index, dtype="int64")
    if grain.pick == "drug_first":
        order = {c: i for i, c in enumerate(grain.precedence)}
        slot = category.map(order).fillna(len(order)).astype("int64")
    return (slot * CODE_SPAN + num.astype("int64")).astype("Int64")


def _codes(values: pd.Series) -> np.ndarray:
    """Return integer codes that sort like the values (missing values last)."""
    codes, uniques = pd.factorize(values, sort=True)
    return np.where(codes < 0, len(uniques), codes).astype("int64")


def _firsts(keys: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Return the positions (in ``order``) that start a new key: the first row of each group."""
    k = keys[order]
    return order[np.r_[True, k[1:] != k[:-1]]] if len(k) else order


def offense_rows(rows: pd.DataFrame, grain: IncidentGrain) -> pd.DataFrame:
    """Return the INCIDENT_OFFENSES frame for offense-grain rows (same order, one row each)."""
    n = len(rows)
    r = rows.reset_index(drop=True)
    o = pd.DataFrame({
        "incident_id": r["incident_id"].astype("str"), "reported_at": r["reported_at"],
        "offense_count": r[OFFENSE_COUNT].astype("Int64"), "offense_code": r["iucr"].astype("str"),
        "offense_group": r["primary_type"].astype("str"), "description": r["description"].astype("str"),
        "offense_category": r["offense_category"], "is_drug_offense": r["is_drug_offense"],
        "nibrs_code": r["nibrs_code"]})
    o["offense_rank"] = offense_rank(o["offense_category"], o["offense_code"], grain).to_numpy()
    day = o["reported_at"].dt.strftime("%Y-%m-%d")
    inc, dayc = _codes(o["incident_id"]), _codes(day.fillna(""))
    count = o["offense_count"].fillna(1).to_numpy(dtype="int64")
    # Order within an incident and day by content, not file position, so reordered files keep their ids.
    order = np.lexsort((np.arange(n), _codes(o["description"]), -count, _codes(o["offense_code"]), dayc, inc))
    group = inc * (dayc.max(initial=0) + 1) + dayc
    starts = np.zeros(n, dtype="int64")
    if n:
        g = group[order]
        new = np.r_[True, g[1:] != g[:-1]]
        starts[order] = np.maximum.accumulate(np.where(new, np.arange(n), 0))
    seq = np.empty(n, dtype="int64")
    seq[order] = np.arange(n) - starts[order] + 1
    o["offense_seq"] = pd.array(seq, dtype="Int64")
    o["offense_id"] = o["incident_id"] + "/" + (day + "/").fillna("") + o["offense_seq"].astype("str")
    return INCIDENT_OFFENSES.coerce(o)


def summarize_offenses(offenses: pd.DataFrame) -> pd.DataFrame:
    """Return, per incident_id (index), the offense-derived incident columns (OFFENSE_FIELDS).

    ``offenses`` may hold an incident's rows from several batches (e.g. the stored rows plus
    this batch's): netting and the pick then span all of them.
    """
    o = offenses.reset_index(drop=True)
    inc, code = _codes(o["incident_id"]), _codes(o["offense_code"].fillna(""))
    group = pd.factorize(inc * (code.max(initial=0) + 1) + code)[0]
    count = o["offense_count"].fillna(1).to_numpy(dtype="int64")
    net = np.bincount(group, weights=count).astype("int64") if len(o) else np.zeros(0, dtype="int64")
    # Each (incident, code) is described by its latest positive row.
    reported = o["reported_at"].to_numpy(dtype="datetime64[us]").astype("int64")  # NaT = min: sorts last
    rep = _firsts(group, np.lexsort((-o["offense_seq"].to_numpy(dtype="int64"), -reported, count <= 0, group)))
    rep_net = net[group[rep]]
    active = rep_net > 0
    rank = o["offense_rank"].to_numpy(dtype="int64")[rep]
    chosen = rep[_firsts(inc[rep], np.lexsort((code[rep], rank, ~active, inc[rep])))]
    n_active = np.bincount(inc[rep], weights=np.clip(rep_net, 0, None), minlength=inc.max(initial=-1) + 1)
    c = o.iloc[chosen]
    out = pd.DataFrame(index=pd.Index(c["incident_id"].to_numpy(), name="incident_id", dtype="str"))
    out["iucr"] = c["offense_code"].to_numpy()
    out["primary_type"] = c["offense_group"].to_numpy()
    out["description"] = c["description"].to_numpy()
    out["n_offenses"] = pd.array(n_active[inc[chosen]].astype("int64"), dtype="Int64")
    reversed_ = out["n_offenses"].to_numpy() == 0
    out["is_reversed"] = pd.array(reversed_, dtype="boolean")
    # A reversed incident names what was reversed but counts as no offense (never a drug incident).
    out["offense_category"] = np.where(reversed_, "non_drug", c["offense_category"].to_numpy(dtype=object))
    out["is_drug_offense"] = pd.array(c["is_drug_offense"].to_numpy(dtype=bool) & ~reversed_, dtype="boolean")
    out["nibrs_code"] = pd.Series(c["nibrs_code"].to_numpy(dtype=object), index=out.index).where(~reversed_, None)
    return out.astype({"iucr": "str", "primary_type": "str", "description": "str", "offense_category": "str",
                       "nibrs_code": "str"})[list(OFFENSE_FIELDS)]


def _any_flag(values: pd.Series, inc: np.ndarray, n_inc: int) -> pd.arrays.BooleanArray:
    """Return per incident code: True if any row says yes, else False if any says no, else NA."""
    v = values.astype("boolean")
    yes = np.bincount(inc, weights=v.fillna(False).to_numpy(dtype=float), minlength=n_inc) > 0
    known = np.bincount(inc, weights=v.notna().to_numpy(dtype=float), minlength=n_inc) > 0
    return pd.arrays.BooleanArray(yes, ~known)


def _latest(values: pd.Series, inc: np.ndarray, n_inc: int) -> np.ndarray:
    """Return the latest timestamp per incident code (NaT when none)."""
    t = values.to_numpy(dtype="datetime64[us]").astype("int64")
    out = np.full(n_inc, np.iinfo("int64").min, dtype="int64")
    np.maximum.at(out, inc, t)
    return out.astype("datetime64[us]")


def to_incidents(rows: pd.DataFrame, grain: IncidentGrain, stored_offenses: pd.DataFrame | None = None) -> IncidentFrames:
    """Return one incident per incident_id and every offense row, from a whole batch of offense rows.

    ``rows``: the adapter's geocoded offense-grain output (INCIDENTS columns + ``offense_count``),
    valid rows only, in file order. ``stored_offenses``: optional INCIDENT_OFFENSES rows already
    in the warehouse for these incident ids; passing them nets across batches (see module doc).
    """
    rows = rows.reset_index(drop=True)
    rows = rows.assign(incident_id=complete_counters(rows["incident_id"].astype("str")))
    offenses = offense_rows(rows, grain)
    if not grain.offense_rows:  # derived ids with counters only: each row is its own incident
        return IncidentFrames(INCIDENTS.coerce(rows), offenses)
    every = offenses
    if stored_offenses is not None and len(stored_offenses):
        older = stored_offenses[~stored_offenses["offense_id"].isin(offenses["offense_id"])]
        every = pd.concat([INCIDENT_OFFENSES.coerce(older), offenses], ignore_index=True)
    summary = summarize_offenses(every)
    inc, ids = pd.factorize(rows["incident_id"])
    prec = rows["geocode_precision"].map(PRECISION_ORDER).fillna(len(PRECISION_ORDER)).to_numpy(dtype="int64")
    best = _firsts(inc, np.lexsort((np.arange(len(rows)), prec, inc)))  # ordered by incident code
    out = rows.iloc[best].drop(columns=list(OFFENSE_FIELDS)).reset_index(drop=True)
    for flag in ("is_arrest", "is_domestic", "is_shooting"):
        out[flag] = _any_flag(rows[flag], inc, len(ids))
    for ts in ("reported_at", "updated_at"):
        out[ts] = _latest(rows[ts], inc, len(ids))
    picked = summary.reindex(pd.Index(ids, dtype="str")).reset_index(drop=True)
    for c in OFFENSE_FIELDS:
        out[c] = picked[c].to_numpy() if c not in ("n_offenses", "is_reversed", "is_drug_offense") else picked[c].array
    return IncidentFrames(INCIDENTS.coerce(out), offenses)


def stored_offense_query_ids(rows: pd.DataFrame) -> Sequence[str]:
    """Return the incident ids whose stored offense rows ``to_incidents`` should see (distinct, sorted)."""
    return sorted(complete_counters(rows["incident_id"].astype("str")).dropna().unique())

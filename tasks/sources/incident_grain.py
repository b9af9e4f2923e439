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


def offense_rows(rows: pd.DataFrame, grain: IncidentGrain) -> pd.DataFrame:
    """Return the INCIDENT_OFFENSES frame for offense-grain rows (same order, one row each)."""
    pos = np.arange(len(rows))
    o = pd.DataFrame({
        "incident_id": rows["incident_id"].to_numpy(), "reported_at": rows["reported_at"].to_numpy(),
        "offense_count": rows[OFFENSE_COUNT].astype("Int64").to_numpy(), "offense_code": rows["iucr"].to_numpy(),
        "offense_group": rows["primary_type"].to_numpy(), "description": rows["description"].to_numpy(),
        "offense_category": rows["offense_category"].to_numpy(),
        "is_drug_offense": rows["is_drug_offense"].to_numpy(), "nibrs_code": rows["nibrs_code"].to_numpy(),
        "_pos": pos})
    o = o.astype({"offense_code": "str", "offense_group": "str", "description": "str", "incident_id": "str"})
    o["offense_rank"] = offense_rank(o["offense_category"], o["offense_code"], grain).to_numpy()
    day = o["reported_at"].dt.strftime("%Y-%m-%d")
    ordered = o.assign(_day=day.fillna("")).sort_values(
        ["incident_id", "_day", "offense_code", "offense_count", "description", "_pos"],
        ascending=[True, True, True, False, True, True], na_position="last", kind="stable")
    seq = ordered.groupby(["incident_id", "_day"], sort=False).cumcount() + 1
    o["offense_seq"] = seq.reindex(o.index).astype("Int64")
    o["offense_id"] = o["incident_id"] + "/" + (day + "/").fillna("") + o["offense_seq"].astype("str")
    return INCIDENT_OFFENSES.coerce(o)


def summarize_offenses(offenses: pd.DataFrame) -> pd.DataFrame:
    """Return, per incident_id (index), the offense-derived incident columns (OFFENSE_FIELDS).

    ``offenses`` may hold an incident's rows from several batches (e.g. the stored rows plus
    this batch's): netting and the pick then span all of them.
    """
    o = offenses.assign(_code=offenses["offense_code"].fillna(""), _pos_count=offenses["offense_count"] > 0)
    net = o.groupby(["incident_id", "_code"], sort=False)["offense_count"].sum()
    rep = o.sort_values(["incident_id", "_code", "_pos_count", "reported_at", "offense_seq"],
                        ascending=[True, True, False, False, False], na_position="last", kind="stable") \
        .drop_duplicates(["incident_id", "_code"], keep="first").set_index(["incident_id", "_code"])
    rep["net"] = net.reindex(rep.index).astype("int64")
    rep["active"] = rep["net"] > 0
    rep = rep.reset_index()
    n_active = rep.assign(n=rep["net"].clip(lower=0)).groupby("incident_id", sort=False)["n"].sum()
    chosen = rep.sort_values(["incident_id", "active", "offense_rank", "_code"], ascending=[True, False, True, True],
                             kind="stable").drop_duplicates("incident_id").set_index("incident_id")
    out = pd.DataFrame(index=chosen.index)
    out["iucr"] = chosen["offense_code"].astype("str")
    out["primary_type"] = chosen["offense_group"].astype("str")
    out["description"] = chosen["description"].astype("str")
    out["n_offenses"] = n_active.reindex(out.index).astype("Int64")
    out["is_reversed"] = (out["n_offenses"] == 0).astype("boolean")
    reversed_ = out["is_reversed"].to_numpy(dtype=bool)
    # A reversed incident names what was reversed but counts as no offense (never a drug incident).
    out["offense_category"] = chosen["offense_category"].where(~reversed_, "non_drug").astype("str")
    out["is_drug_offense"] = (chosen["is_drug_offense"].astype("boolean") & ~reversed_).astype("boolean")
    out["nibrs_code"] = chosen["nibrs_code"].where(~reversed_, None).astype("str")
    return out[list(OFFENSE_FIELDS)]


def _any_flag(rows: pd.DataFrame, column: str) -> pd.Series:
    g = rows[column].astype("boolean").groupby(rows["incident_id"], sort=False)
    return g.any().where(g.count() > 0, pd.NA).astype("boolean")  # any yes; else no if any no; else unknown


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
    prec = rows["geocode_precision"].map(PRECISION_ORDER).fillna(len(PRECISION_ORDER))
    best = rows.assign(_p=prec.to_numpy(), _pos=np.arange(len(rows))).sort_values(
        ["incident_id", "_p", "_pos"], kind="stable").drop_duplicates("incident_id").set_index("incident_id")
    inc = best.drop(columns=[*OFFENSE_FIELDS, "_p", "_pos"])
    inc = inc.join(summary, how="left")
    for flag in ("is_arrest", "is_domestic", "is_shooting"):
        inc[flag] = _any_flag(rows, flag).reindex(inc.index)
    for ts in ("reported_at", "updated_at"):
        inc[ts] = rows.groupby("incident_id", sort=False)[ts].max().reindex(inc.index)
    inc = inc.reset_index()
    return IncidentFrames(INCIDENTS.coerce(inc).reset_index(drop=True), offenses)


def stored_offense_query_ids(rows: pd.DataFrame) -> Sequence[str]:
    """Return the incident ids whose stored offense rows ``to_incidents`` should see (distinct, sorted)."""
    return sorted(complete_counters(rows["incident_id"].astype("str")).dropna().unique())

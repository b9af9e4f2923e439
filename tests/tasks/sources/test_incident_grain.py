"""Incident grain: offense rows collapse into incidents by the documented rule; -1 rows net against
the record they reverse (in the batch or a stored earlier one); every offense row is kept."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from schemas.incidents import INCIDENT_OFFENSES, INCIDENTS, OFFENSE_COUNT
from tasks.sources.incident_grain import IncidentGrain, complete_counters, offense_rank, summarize_offenses, to_incidents

GRAIN = IncidentGrain(offense_rows=True)
DRUG = {"182120": "possession", "183130": "sale_delivery", "181260": "manufacture", "189999": "other_drug"}


def rows(*specs) -> pd.DataFrame:
    """Offense-grain rows from (incident_id, code, count[, overrides]) tuples; a drug code from DRUG."""
    records = []
    for i, spec in enumerate(specs):
        inc, code, count, *more = spec
        cat = DRUG.get(code, "non_drug")
        rec = {c: None for c in INCIDENTS.column_names}
        rec.update(incident_id=inc, iucr=code, description=f"offense {code}", offense_category=cat,
                   is_drug_offense=cat != "non_drug", nibrs_code="35A" if cat != "non_drug" else None,
                   occurred_at=pd.Timestamp("2013-09-01 01:15"), reported_at=pd.Timestamp("2013-09-01"),
                   updated_at=pd.Timestamp("2013-09-01"), geocode_method="projected_xy", geocode_precision="point",
                   neighborhood_id="57", latitude=38.6 + i / 1000, n_offenses=1, is_reversed=False)
        rec.update(more[0] if more else {})
        rec[OFFENSE_COUNT] = count
        records.append(rec)
    frame = INCIDENTS.coerce(pd.DataFrame(records))
    frame[OFFENSE_COUNT] = pd.Series([r[OFFENSE_COUNT] for r in records], dtype="Int64")
    return frame


def incident(frames, incident_id) -> pd.Series:
    inc = frames.incidents.set_index("incident_id")
    return inc.loc[incident_id]


def test_drug_offense_is_named_first_then_the_most_serious_category():
    frames = to_incidents(rows(("A", "31111", 1), ("A", "182120", 1), ("A", "183130", 1)), GRAIN)
    a = incident(frames, "A")
    assert a["iucr"] == "183130" and a["offense_category"] == "sale_delivery" and bool(a["is_drug_offense"])
    assert a["n_offenses"] == 3 and not a["is_reversed"]
    assert len(frames.offenses) == 3 and INCIDENT_OFFENSES.check(frames.offenses) == []
    assert INCIDENTS.check(frames.incidents) == []


def test_code_order_picks_the_lowest_code_when_no_drug_offense():
    frames = to_incidents(rows(("B", "64600", 1), ("B", "31111", 1), ("B", "142320", 1)), GRAIN)
    assert incident(frames, "B")["iucr"] == "31111"
    frames = to_incidents(rows(("B", "64600", 1), ("B", "182120", 1)), IncidentGrain(offense_rows=True,
                                                                                   pick="code_order"))
    assert incident(frames, "B")["iucr"] == "64600" and bool(incident(frames, "B")["is_drug_offense"]) is False


@pytest.mark.parametrize("codes,category", [
    (["182120", "181260"], "manufacture"), (["182120", "189999"], "possession"), (["189999"], "other_drug"),
], ids=["manufacture-over-possession", "possession-over-other", "other-only"])
def test_default_category_order(codes, category):
    frames = to_incidents(rows(*[("C", c, 1) for c in codes]), GRAIN)
    assert incident(frames, "C")["offense_category"] == category


def test_offense_rank_is_absolute_so_sql_can_apply_the_same_rule():
    cat = pd.Series(["non_drug", "possession", "sale_delivery", "non_drug"], dtype="str")
    codes = pd.Series([" 21000", "182120", "183130", None], dtype="str")
    rank = offense_rank(cat, codes, GRAIN).tolist()
    assert rank[2] < rank[1] < rank[0] < rank[3]
    assert rank[0] == 5 * 10**10 + 21000


def test_reversal_in_the_same_file_nets_out_and_the_other_offense_stays():
    frames = to_incidents(rows(("D", "31111", 1), ("D", "31111", -1), ("D", "41111", 1)), GRAIN)
    d = incident(frames, "D")
    assert d["iucr"] == "41111" and d["n_offenses"] == 1 and not d["is_reversed"]
    assert frames.offenses["offense_count"].sum() == 1  # every row kept: the official tally still adds up


def test_fully_reversed_incident_is_kept_but_counts_as_no_offense():
    frames = to_incidents(rows(("E", "182120", 1), ("E", "182120", -1)), GRAIN)
    e = incident(frames, "E")
    assert bool(e["is_reversed"]) and e["n_offenses"] == 0
    assert bool(e["is_drug_offense"]) is False and e["offense_category"] == "non_drug" and pd.isna(e["nibrs_code"])
    assert e["iucr"] == "182120"  # names what was reversed


def test_reversal_in_a_later_batch_nets_against_the_stored_rows():
    first = to_incidents(rows(("F", "182120", 1), ("F", "142320", 1)), GRAIN)
    later = rows(("F", "182120", -1, {"reported_at": pd.Timestamp("2013-10-01"),
                                      "updated_at": pd.Timestamp("2013-10-01")}))
    alone = to_incidents(later, GRAIN)
    assert bool(incident(alone, "F")["is_reversed"])  # without the stored rows the batch sees only a -1
    netted = to_incidents(later, GRAIN, stored_offenses=first.offenses)
    f = incident(netted, "F")
    assert f["iucr"] == "142320" and f["n_offenses"] == 1 and bool(f["is_drug_offense"]) is False
    assert netted.offenses["offense_id"].tolist() == ["F/2013-10-01/1"]  # only this batch's rows to merge
    assert set(first.offenses["offense_id"]) == {"F/2013-09-01/1", "F/2013-09-01/2"}


def test_offense_ids_are_stable_when_the_file_is_reordered():
    a = to_incidents(rows(("G", "31111", 1), ("G", "41111", 1), ("H", "64600", 1)), GRAIN).offenses
    b = to_incidents(rows(("H", "64600", 1), ("G", "41111", 1), ("G", "31111", 1)), GRAIN).offenses
    key = ["offense_id", "offense_code"]
    pd.testing.assert_frame_equal(a[key].sort_values("offense_id").reset_index(drop=True),
                                  b[key].sort_values("offense_id").reset_index(drop=True))


def test_place_comes_from_the_best_geocoded_row_and_flags_from_any_row():
    frames = to_incidents(rows(
        ("J", "182120", 1, {"geocode_precision": "none", "neighborhood_id": None, "is_arrest": False}),
        ("J", "31111", 1, {"geocode_precision": "point", "neighborhood_id": "19", "is_arrest": True,
                           "reported_at": pd.Timestamp("2013-10-01")}),
    ), GRAIN)
    j = incident(frames, "J")
    assert j["neighborhood_id"] == "19" and j["geocode_precision"] == "point"
    assert j["iucr"] == "182120"  # the offense is still the drug one
    assert bool(j["is_arrest"]) is True and j["reported_at"] == pd.Timestamp("2013-10-01")
    assert pd.isna(j["is_shooting"])


def test_duplicate_rows_are_all_kept_as_offenses():
    frames = to_incidents(rows(("K", "1806", 1), ("K", "1806", 1)), GRAIN)
    assert frames.offenses["offense_seq"].tolist() == [1, 2] and incident(frames, "K")["n_offenses"] == 2


def test_occurrence_counters_make_each_row_its_own_incident_in_file_order():
    ids = pd.Series(["h1#", "h2#", "h1#", "real", None], dtype="str")
    assert complete_counters(ids).tolist()[:4] == ["h1-1", "h2-1", "h1-2", "real"]
    frames = to_incidents(rows(("x#", "31111", 1), ("x#", "31111", 1)), IncidentGrain(occurrence_counter=True))
    assert frames.incidents["incident_id"].tolist() == ["x-1", "x-2"]


def test_summary_over_rows_from_many_batches_equals_the_official_tally():
    rng = np.random.default_rng(7)
    specs = []
    for i in range(300):
        code = rng.choice(list(DRUG) + ["31111", "64600"])
        specs.append((f"I{i % 120}", str(code), 1))
        if rng.random() < 0.1:
            specs.append((f"I{i % 120}", str(code), -1))
    frames = to_incidents(rows(*specs), GRAIN)
    summary = summarize_offenses(frames.offenses)
    off = frames.offenses
    net = off.groupby(["incident_id", "offense_code"])["offense_count"].sum().clip(lower=0)
    assert summary["n_offenses"].sum() == net.sum()
    drug_net = off[off["is_drug_offense"]].groupby(["incident_id", "offense_code"])["offense_count"].sum()
    expected = set(drug_net[drug_net > 0].index.get_level_values(0))
    assert set(summary.index[summary["is_drug_offense"].to_numpy(dtype=bool)]) == expected

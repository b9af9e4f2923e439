"""Linkage, return to treatment, completion, referral shares, uptake and the TEDS-D benchmark."""
from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest

from tasks.outcomes.benchmark import arrests_reduced, referral_group, teds_benchmark
from tasks.outcomes.linkage import link_persons, participations, treatment_episodes, unmatched_discharges
from tasks.outcomes.treatment import completion_rates, referral_shares, return_to_treatment, treatment_uptake
from tasks.sources import treatment_discharges_teds as teds

D = pd.to_datetime
ADMISSIONS = pd.DataFrame({
    "admission_id": ["a1", "a2", "a3", "a4", "a5"],
    "client_key": ["k1", "k1", "k2", "k3", "k1"],
    "admitted_on": D(["2016-01-01", "2016-09-01", "2016-03-01", "2018-06-01", "2018-08-01"]),
    "neighborhood_id": ["25", "25", "26", "26", "25"],
    "referral_source": pd.array([7, 1, 7, -9, 6], dtype="Int64"),
})
DISCHARGES = pd.DataFrame({
    "admission_id": ["a1", "a2", "a3", "a4", "zz"],
    "client_key": ["k1", "k1", "k2", "kX", "k9"],
    "discharged_on": D(["2016-02-01", "2016-10-01", "2016-04-01", "2018-07-01", "2017-01-01"]),
    "discharge_reason": pd.array([1, 2, 1, 1, 1], dtype="Int64"),
    "is_completed": pd.array([True, False, True, True, True], dtype="boolean"),
})
END = pd.Timestamp("2018-11-12")


def test_treatment_episodes_attach_matching_discharges_only():
    e = treatment_episodes(ADMISSIONS, DISCHARGES).set_index("admission_id")
    assert e.loc["a1", "is_completed"] and pd.isna(e.loc["a4", "discharged_on"])  # a4's client key disagrees
    assert pd.isna(e.loc["a5", "discharged_on"])
    bad = unmatched_discharges(ADMISSIONS, DISCHARGES).set_index("admission_id")["reason"].to_dict()
    assert bad == {"a4": "client key differs from the admission's", "zz": "no admission with this admission_id"}


def test_return_to_treatment_hand_computed():
    r = return_to_treatment(ADMISSIONS, DISCHARGES, END).set_index("admission_id")
    assert bool(r.loc["a1", "is_returned"]) and r.loc["a1", "days_to_return"] == 213  # 2016-02-01 -> 09-01
    assert not bool(r.loc["a2", "is_returned"])  # next admission 2018-08-01: after 365 days
    assert not bool(r.loc["a3", "is_returned"])
    assert not bool(r.loc["a4", "has_followup"]) and pd.isna(r.loc["a4", "is_returned"])


def test_completion_and_referral_shares():
    c = completion_rates(DISCHARGES, ADMISSIONS, by=("neighborhood_id",)).set_index("neighborhood_id")
    assert c.loc["25", "n_discharges"] == 2 and c.loc["25", "n_completed"] == 1
    s = referral_shares(ADMISSIONS, by_area=False, freq="Y").set_index("period")
    assert s.loc[pd.Timestamp("2016-01-01"), "n_admissions"] == 3 and s.loc[pd.Timestamp("2016-01-01"), "n_criminal_justice"] == 2
    assert s.loc[pd.Timestamp("2018-01-01"), "n_admissions"] == 1  # the -9 referral is left out


def test_uptake_after_first_session():
    part = pd.DataFrame({"person_key": ["k1", "k2", "k4"], "program_id": ["p", "p", "p"],
                         "first_session_on": D(["2016-08-01", "2016-04-01", "2017-01-01"])})
    u = treatment_uptake(part, ADMISSIONS, END).iloc[0]
    assert (u["n_participants"], u["n_admitted"]) == (3, 1)  # k1 admitted 2016-09-01; k2 before; k4 never


def test_participations_and_linked_persons():
    roster = pd.DataFrame({"session_id": ["s1", "s2", "s2", "s9"], "participant_key": ["k1", "k1", "k5", "k1"]})
    sessions = pd.DataFrame({"session_id": ["s1", "s2"], "program_id": ["p", "p"],
                             "session_date": D(["2016-08-01", "2016-08-08"])})
    part = participations(roster, sessions)
    assert part.set_index("person_key").loc["k1", "n_sessions"] == 2  # s9 is not a loaded session
    arrests = pd.DataFrame({"arrest_id": ["x1", "x2"], "person_key": ["k1", "k7"], "arrested_on": D(["2016-01-01"] * 2),
                            "is_drug_charge": pd.array([True, False], dtype="boolean")})
    linked = link_persons(part, arrests, ADMISSIONS, DISCHARGES).set_index("person_key")
    assert linked.loc["k1", "is_participant"] and linked.loc["k1", "n_arrests"] == 1
    assert linked.loc["k1", "n_admissions"] == 3 and linked.loc["k1", "n_completed"] == 1
    assert not linked.loc["k7", "is_participant"] and set(linked.index) >= {"k1", "k2", "k3", "k5", "k7"}


def test_referral_groups_and_arrests_reduced():
    assert referral_group(pd.Series([7, 1, -9, None])).tolist() == ["criminal_justice", "other", "unknown", "unknown"]
    adm = pd.Series([1, 2, 0, None, 1, 2], dtype="Int64")
    dis = pd.Series([None, 1, 0, 0, -9, 2], dtype="Int64")
    assert arrests_reduced(adm, dis).tolist() == [True, True, pd.NA, pd.NA, pd.NA, False]


def test_teds_benchmark_on_the_real_sample(data_dir):
    raw = pa.Table.from_batches(list(teds.read_raw(data_dir / "teds/tedsd_2023_sample_decoded.csv"))).to_pandas()
    b = teds_benchmark(teds.to_standard(raw)).set_index("referral_group")
    # pinned to the sample's own columns: 82 of 190 court referrals completed; arrests_reduced sums to 31 of 42
    assert (b.loc["criminal_justice", "n_discharges"], b.loc["criminal_justice", "n_completed"]) == (190, 82)
    assert (b.loc["all", "n_arrested_at_admission"], b.loc["all", "n_arrests_reduced"]) == (42, 31)
    assert b.loc["all", "completion_rate"] == pytest.approx(0.424)
    assert b.loc["criminal_justice", "completion_rate_ci_low"] < 0.4316 < b.loc["criminal_justice", "completion_rate_ci_high"]


def test_linked_persons_conform_to_their_schema():
    from schemas.outcomes import LINKED_PERSONS

    part = pd.DataFrame({"person_key": ["k1"], "program_id": ["p"], "first_session_on": D(["2016-08-01"]),
                         "last_session_on": D(["2016-09-01"]), "n_sessions": [3]})
    arrests = pd.DataFrame({"arrest_id": ["x1"], "person_key": ["k1"], "arrested_on": D(["2016-01-01"]),
                            "is_drug_charge": pd.array([True], dtype="boolean")})
    linked = link_persons(part, arrests, ADMISSIONS, DISCHARGES)
    assert LINKED_PERSONS.check(LINKED_PERSONS.coerce(linked)) == []

"""Risk-set matching and re-arrest outcomes on a small hand-made set of people."""
from __future__ import annotations

import pandas as pd
import pytest

from tasks.outcomes.cohort import match_comparison, profiles_at
from tasks.outcomes.rearrest import rearrest_outcomes

DATA_END = pd.Timestamp("2018-11-12")


def _arrests(rows) -> pd.DataFrame:
    f = pd.DataFrame(rows, columns=["person_key", "arrested_on", "neighborhood_id", "age_at_arrest", "sex", "is_drug_charge"])
    return f.assign(arrested_on=pd.to_datetime(f["arrested_on"]).astype("datetime64[us]"),
                    age_at_arrest=f["age_at_arrest"].astype("Int64"), sex=f["sex"].astype("Int64"),
                    is_drug_charge=f["is_drug_charge"].astype("boolean"), arrest_id=[f"A{i}" for i in range(len(f))])


ARRESTS = _arrests([
    ("P", "2017-01-10", "25", 30, 1, False),   # the participant: one prior arrest
    ("P", "2017-08-01", "25", 30, 1, True),    # re-arrested 61 days after the first session (drug)
    ("C1", "2017-02-01", "25", 31, 1, False),  # same profile
    ("C1", "2017-06-01", "25", 31, 1, False),  # on the index day: neither prior nor follow-up
    ("C1", "2018-09-01", "25", 32, 1, False),  # after 12 months
    ("C2", "2017-03-01", "25", 33, 1, False),  # same profile, never re-arrested
    ("C3", "2017-03-01", "25", 31, 2, False),  # other sex
    ("C4", "2017-01-20", "25", 31, 1, False),  # two prior arrests: other band
    ("C4", "2017-02-20", "25", 31, 1, False),
    ("C5", "2016-05-01", "25", 31, 1, False),  # outside the 12-month window
    ("C6", "2017-03-01", "29", 31, 1, False),  # other area
    ("C7", "2017-03-01", "25", 40, 1, False),  # other age group (40-44)
    ("F", "2017-04-01", "25", 32, 1, False),   # joins a program later (2018-01-01): may serve
    ("Q", "2017-05-01", "25", 30, 1, False),   # joined before the index date: may not
    ("N", "2015-03-01", "25", 30, 1, False),   # participant without a prior arrest in the window
])
PARTICIPATION = pd.DataFrame({
    "person_key": ["P", "F", "Q", "N"], "program_id": ["prog-a", "prog-b", "prog-b", "prog-a"],
    "first_session_on": pd.to_datetime(["2017-06-01", "2018-01-01", "2017-01-01", "2017-06-01"]),
    "last_session_on": pd.to_datetime(["2017-09-01", "2018-02-01", "2017-03-01", "2017-07-01"]),
})


@pytest.fixture(scope="module")
def matching():
    return match_comparison(PARTICIPATION, ARRESTS, k=5, seed=3)


def test_profiles_at_the_index_date():
    prof = profiles_at(ARRESTS, pd.Timestamp("2017-06-01")).set_index("person_key")
    assert "C5" not in prof.index and "N" not in prof.index
    assert prof.loc["C4", "n_prior"] == 2 and prof.loc["C4", "prior_band"] == 2
    assert prof.loc["C1", "n_prior"] == 1  # the index-day arrest is not prior
    # age 30 at 2017-01-10 (+ half a year, + 0.39 years) -> 30.9 -> group 6 (30-34); 40 -> group 8
    assert prof.loc["P", "age_group"] == 6 and prof.loc["C7", "age_group"] == 8
    assert prof.loc["C6", "neighborhood_id"] == "29" and prof.loc["C3", "sex"] == 2


def test_matched_set_of_the_participant(matching):
    m = matching.matched
    p_set = m[m["set_id"] == m.loc[m["person_key"] == "P", "set_id"].iloc[0]]
    assert set(p_set["person_key"]) == {"P", "C1", "C2", "F"}
    assert p_set.loc[p_set["role"] == "comparison", "weight"].tolist() == pytest.approx([1 / 3] * 3)
    assert (p_set["index_on"] == pd.Timestamp("2017-06-01")).all() and (p_set["program_id"] == "prog-a").all()


def test_later_participant_matched_with_replacement(matching):
    m = matching.matched
    f_set = m[m["set_id"] == m.loc[(m["person_key"] == "F") & (m["role"] == "participant"), "set_id"].iloc[0]]
    # at 2018-01-01 C1 has two prior arrests, P and Q have joined: only C2 (already used for P) is left
    assert f_set.loc[f_set["role"] == "comparison", "person_key"].tolist() == ["C2"]
    assert f_set.loc[f_set["role"] == "comparison", "weight"].tolist() == [1.0]


def test_unmatched_participants_and_reasons(matching):
    lost = matching.unmatched.set_index("person_key")["reason"].to_dict()
    assert lost == {"N": "fewer than 1 prior arrests", "Q": "fewer than 1 prior arrests"}


def test_no_comparison_available():
    alone = ARRESTS[ARRESTS["person_key"].isin(["P", "C3"])]
    m = match_comparison(PARTICIPATION[PARTICIPATION["person_key"] == "P"], alone)
    assert m.matched.empty and m.unmatched["reason"].tolist() == ["no comparison person with the same profile"]


def test_exit_index_uses_the_last_session():
    m = match_comparison(PARTICIPATION[PARTICIPATION["person_key"] == "P"], ARRESTS, index="exit").matched
    # at 2017-09-01 P has two arrests in the window (band 2), as do C1 and C4
    assert set(m["person_key"]) == {"P", "C1", "C4"} and (m["index_on"] == pd.Timestamp("2017-09-01")).all()
    assert (m["prior_band"] == 2).all()
    with pytest.raises(ValueError, match="index must be"):
        match_comparison(PARTICIPATION, ARRESTS, index="enrolment")


def test_same_seed_same_sets():
    a = match_comparison(PARTICIPATION, ARRESTS, k=1, seed=7).matched
    b = match_comparison(PARTICIPATION, ARRESTS, k=1, seed=7).matched
    pd.testing.assert_frame_equal(a, b)


def test_rearrest_outcomes_hand_computed(matching):
    o = rearrest_outcomes(matching.matched, ARRESTS, DATA_END).set_index(["set_id", "person_key"])
    p_set = o.xs("P", level="person_key").index[0]
    s = o.loc[p_set]
    assert s.loc["P", "days_to_any"] == 61 and s.loc["P", "days_to_drug"] == 61
    assert bool(s.loc["P", "is_rearrested_any_6m"]) and bool(s.loc["P", "is_rearrested_drug_12m"])
    assert s.loc["C1", "days_to_any"] == 457 and not bool(s.loc["C1", "is_rearrested_any_12m"])
    assert pd.isna(s.loc["C2", "days_to_any"]) and s.loc["C2", "followup_days"] == 529
    m = matching.matched
    f_set = m.loc[(m["person_key"] == "F") & (m["role"] == "participant"), "set_id"].iloc[0]
    # 2018-01-01 + 12 months runs past the data end: no 12-month verdict, a 6-month one
    assert pd.isna(o.loc[(f_set, "F"), "is_rearrested_any_12m"]) and o.loc[(f_set, "F"), "has_followup_6m"]


def test_outputs_conform_to_the_restricted_table_schemas(matching):
    from schemas.outcomes import OUTCOME_SETS

    o = rearrest_outcomes(matching.matched, ARRESTS, DATA_END)
    assert OUTCOME_SETS.check(OUTCOME_SETS.coerce(o)) == []
    assert not o.duplicated(["set_id", "person_key"]).any()

"""The outcomes step's pure core on a hand-made sample: every result frame, its contract, privacy."""
from __future__ import annotations

import pandas as pd
import pytest

from schemas.arrests import ARRESTS
from schemas.discharges import TEDS_STATE_DISCHARGES, TREATMENT_DISCHARGES
from schemas.outcome_results import OUTCOME_RESULT_TABLES, OutcomeInputs
from schemas.outcomes import OUTCOME_TABLES
from tasks.outcomes.measures import compute_outcomes, data_end
from tasks.outcomes.suppression import has_small_cells

THRESHOLD = 10


def sample(n_part: int = 30, n_comp: int = 150) -> OutcomeInputs:
    """Participants p* and comparison people c* (area 25, men born 1990): one prior arrest each
    (2016-06-15); every 2nd participant and every 3rd comparison person re-arrested 2017-06-20."""
    rows = []
    for i in range(n_part):
        rows.append((f"p{i}", "2016-06-15"))
        if i % 2 == 0:
            rows.append((f"p{i}", "2017-06-20"))
    for i in range(n_comp):
        rows.append((f"c{i}", "2016-06-15"))
        if i % 3 == 0:
            rows.append((f"c{i}", "2017-06-20"))
    rows.append(("c1", "2018-12-01"))
    arrests = ARRESTS.coerce(pd.DataFrame({
        "arrest_id": [f"A{j}" for j in range(len(rows))], "person_key": [r[0] for r in rows],
        "arrested_on": pd.to_datetime([r[1] for r in rows]).astype("datetime64[us]"), "charge_code": "0486",
        "offense_category": "possession", "is_drug_charge": True, "neighborhood_id": "25",
        "age_at_arrest": 26, "age_group": 6, "sex": 1, "is_synthetic": True}))
    sessions = pd.DataFrame({"session_id": ["s1"], "program_id": ["demo-001"],
                             "session_date": pd.to_datetime(["2017-01-10"]).astype("datetime64[us]")})
    roster = pd.DataFrame({"session_id": "s1", "participant_key": [f"p{i}" for i in range(n_part)]})
    admissions = pd.DataFrame({"admission_id": ["T1", "T2"], "client_key": ["p0", "c5"],
                               "admitted_on": pd.to_datetime(["2017-03-01", "2017-04-01"]).astype("datetime64[us]"),
                               "neighborhood_id": "25", "referral_source": pd.array([7, 1], dtype="Int64")})
    discharges = TREATMENT_DISCHARGES.coerce(pd.DataFrame({
        "admission_id": ["T1"], "provider_id": ["X"], "client_key": ["p0"],
        "admitted_on": pd.to_datetime(["2017-03-01"]), "discharged_on": pd.to_datetime(["2017-05-01"]),
        "length_of_stay_days": [61], "discharge_reason": [1], "is_completed": [True], "arrests_at_discharge": [0],
        "is_synthetic": [True]}))
    return OutcomeInputs(arrests, roster, sessions, admissions, discharges, TEDS_STATE_DISCHARGES.empty_frame(), True)


def test_every_result_follows_its_contract_and_the_estimate_matches_hand_counts():
    res = compute_outcomes(sample(), THRESHOLD, k=5, seed=0)
    for schema, frame in zip((*OUTCOME_TABLES, *OUTCOME_RESULT_TABLES), res[:8]):
        assert list(frame.columns) == list(schema.column_names), schema.table
    assert len(res.linked) == 180 and int(res.linked["is_participant"].sum()) == 30
    est = res.estimates.set_index(["program_id", "charge", "window_months"]).loc[("demo-001", "any", 12)]
    assert est["n_sets"] == 30 and est["participant_risk"] == pytest.approx(0.5)
    # Comparison people are drawn from a pool re-arrested 1 in 3; the weighted risk stays near it.
    assert est["comparison_risk"] == pytest.approx(1 / 3, abs=0.12)
    assert est["risk_ratio"] == pytest.approx(est["participant_risk"] / est["comparison_risk"])


def test_analyst_bound_results_hold_no_person_keys_or_small_cells():
    res = compute_outcomes(sample(), THRESHOLD)
    for frame in (res.program, res.area, res.survival):
        assert not [c for c in frame.columns if c.endswith("_key")]
        assert not has_small_cells(frame, [c for c in frame.columns if c.startswith("n_")], THRESHOLD)
    assert (res.survival["n_at_risk"] > THRESHOLD).all() and res.program["is_synthetic"].all()


def test_no_arrests_means_no_estimates_and_a_note():
    empty = sample()._replace(arrests=ARRESTS.empty_frame())
    res = compute_outcomes(empty, THRESHOLD)
    assert res.estimates.empty and res.program.empty and res.notes == ["no re-arrest estimates: no arrests are loaded"]
    assert data_end(ARRESTS.empty_frame()) is None

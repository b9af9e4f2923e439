"""The outcomes demo generator on small hand-built inputs: determinism, one person register behind
rosters, admissions and arrests, the planted effect, and defects that the suites catch."""
from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from schemas.teds_codes import load_teds_codes
from tasks.outcomes.demo_run import defect_recall, load_demo
from tasks.sources.arrests_export import EXPORT_COLUMNS
from tasks.synthetic.arrests import EFFECT_MONTHS, OutcomeInputs, generate_outcomes_demo
from tasks.synthetic.treatment import EXPORT_COLUMNS as ADMISSION_COLUMNS

KEY = b"k" * 32
PLANTED = ("demo-001",)


def _inputs(codes) -> OutcomeInputs:
    rng = np.random.default_rng(0)
    days = pd.date_range("2015-01-01", "2018-11-12", freq="D")
    n = 5000
    skeleton = pd.DataFrame({"arrested_on": np.sort(rng.choice(days, n)).astype("datetime64[us]"),
                             "neighborhood_id": rng.choice(["25", "26"], n),
                             "charge_code": rng.choice(["0486", "2027", "0820"], n)})
    programs = pd.DataFrame({"PROGRAM_ID": ["demo-001", "demo-002"], "PROGRAM_NAME": ["Test Diversion", "Test Circle"],
                             "PROGRAM_TYPE": ["Diversion", "Support group"], "SPONSOR": "Demo (synthetic)",
                             "SITE_NAME": "Hall", "SITE_ADDRESS": "100 N STATE ST", "CITY": "Chicago", "STATE": "IL",
                             "START_DATE": ["2016-02-01", "2016-03-07"], "END_DATE": None, "SYNTHETIC": "Y"})
    sessions, roster = [], []
    for pid, start, base in (("demo-001", "2016-02-01", 100000), ("demo-002", "2016-03-07", 100200)):
        for w, day in enumerate(pd.date_range(start, periods=30, freq="7D")):
            sid = f"{pid}-{day:%Y%m%d}"
            sessions.append({"SESSION_ID": sid, "PROGRAM_ID": pid, "SESSION_DATE": f"{day:%Y-%m-%d}", "ATTENDEES": "3",
                             "NEW_PARTICIPANTS": "3", "SYNTHETIC": "Y"})
            roster += [{"SESSION_ID": sid, "PARTICIPANT_ID": f"C{base + 3 * w + j}", "SYNTHETIC": "Y"} for j in range(3)]
    m = 60
    admit = pd.Timestamp("2016-01-01") + pd.to_timedelta(rng.integers(0, 800, m), unit="D")
    export = pd.DataFrame({
        "ADMISSION_ID": [f"A{i:08d}" for i in range(m)], "PROVIDER_ID": "IL-TX-0001",
        "CLIENT_ID": [f"C{1000000 + i % 45:07d}" for i in range(m)], "ADMIT_DATE": admit.strftime("%m/%d/%Y"),
        "AGE": "6", "GENDER": rng.choice(["1", "2"], m), "SUB1": "5", "SUB2": "1", "ROUTE1": "4", "FREQ1": "3",
        "PSOURCE": rng.choice(["1", "7"], m), "NOPRIOR": "1", "SERVICES": rng.choice(["2", "7"], m),
        "ADDRESS": "100 N STATE ST", "ZIP": "60602", "SYNTHETIC": "Y"})[list(ADMISSION_COLUMNS)]
    truth = pd.DataFrame({"row": range(m), "address_kind": "block", "source_area_id": rng.choice(["25", "26"], m)})
    reasons = pd.DataFrame({"service_setting": [2.0, 2, 7, 7], "discharge_reason": [1, 2, 1, 2], "n": [30, 10, 20, 20]})
    return OutcomeInputs(skeleton, programs, pd.DataFrame(sessions), pd.DataFrame(roster),
                         {"demo-001": "25", "demo-002": "26"}, export, truth, reasons, codes)


@pytest.fixture(scope="module")
def inputs(data_dir):
    return _inputs(load_teds_codes(data_dir))


@pytest.fixture(scope="module")
def demo(inputs):
    return generate_outcomes_demo(inputs, seed=4, planted_programs=PLANTED, planted_rr=0.5, defect_rate=0.02)


def test_same_seed_same_files(inputs, demo):
    again = generate_outcomes_demo(inputs, seed=4, planted_programs=PLANTED, planted_rr=0.5, defect_rate=0.02)
    for a, b in zip(demo[:5], again[:5]):
        pd.testing.assert_frame_equal(a, b)


def test_everything_is_labelled_synthetic(demo):
    assert list(demo.arrests.columns) == list(EXPORT_COLUMNS)
    for frame in (demo.arrests, demo.admissions, demo.discharges):
        assert (frame["SYNTHETIC"] == "Y").all()
    assert demo.truth["synthetic"] is True


def test_one_register_behind_rosters_admissions_and_arrests(inputs, demo):
    reg = demo.register.set_index("person_id")
    roster_ids = set(inputs.roster["PARTICIPANT_ID"])
    assert set(reg.index[reg["role"] == "participant"]) == roster_ids
    assert set(reg.index[reg["role"] == "client"]) == set(inputs.admissions["CLIENT_ID"])
    arrested = set(demo.arrests["PERSON_ID"]) - {""}
    assert arrested <= set(reg.index) and arrested & roster_ids and arrested & set(inputs.admissions["CLIENT_ID"])
    assert set(demo.admissions["CLIENT_ID"]) <= roster_ids  # participants enter treatment under their roster id
    assert set(demo.discharges["CLIENT_ID"]) - {""} <= set(inputs.admissions["CLIENT_ID"]) | roster_ids
    # one birth date and one sex per person across their arrests (the 'U's aside)
    people = demo.arrests[demo.arrests["PERSON_ID"] != ""]
    assert people.groupby("PERSON_ID")["BIRTH_DATE"].nunique().max() <= 2  # a before-birth defect line may differ


def test_arrest_counts_follow_the_real_skeleton(inputs, demo):
    assert len(demo.arrests) - len(demo.defects[demo.defects["file"] == "arrests.csv"]) == \
        len(inputs.skeleton) - demo.truth["n_removed_by_effect"]
    assert demo.truth["n_removed_by_effect"] > 0


def test_desisting_participants_have_no_arrest_after_the_first_session(demo):
    reg = demo.register[demo.register["is_desisting"].fillna(False).astype(bool)]
    assert len(reg) and set(reg["program_id"]) == set(PLANTED)
    a = demo.arrests.merge(reg[["person_id", "first_session_on"]], left_on="PERSON_ID", right_on="person_id")
    on = pd.to_datetime(a["ARREST_DATE"], errors="coerce")
    inside = (on > a["first_session_on"]) & (on <= a["first_session_on"] + pd.DateOffset(months=EFFECT_MONTHS))
    assert not inside.any()
    real = demo.truth["realized"]["any_12m"]
    assert real["events_with_effect"] <= real["events_without_effect"]


def test_every_defect_is_quarantined(data_dir, inputs, demo):
    loaded = load_demo(demo, inputs, data_dir, KEY, datetime(2018, 11, 13))
    recall = defect_recall(demo, loaded)
    assert set(recall["defect"]) >= {"unknown_charge_code", "before_birth", "future_date", "duplicate_identical",
                                     "missing_person_id", "before_admission", "unknown_admission"}
    assert (recall["n_quarantined"] == recall["n"]).all(), recall
    assert len(loaded.arrests) > 0.95 * (len(inputs.skeleton) - demo.truth["n_removed_by_effect"])

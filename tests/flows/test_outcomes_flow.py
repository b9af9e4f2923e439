"""Outcome feeds and the outcomes step through the real flows: fixtures, quarantine, audit, privacy,
and the outcomes group end to end on a small hand-made sample."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from flows.feeds import configured_feeds, run_feed_group
from flows.outcomes import arrests_flow, provider_discharges_flow, teds_discharges_flow
from flows.secrets import pseudonym_key
from tasks.ingest.prefect_tasks import prepare_warehouse
from tasks.ingest.pseudonymize import pseudonymize
from warehouse.resource import Warehouse

DATA = Path(__file__).resolve().parents[1] / "data"
KEY = "test-pseudonym-key-5f0e3c1d9a7b4e2f8c6d0a1b3e5f7a9c"


def q(url: str, sql: str, **params):
    import sqlalchemy as sa

    with Warehouse(url) as wh, wh.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql), params).all()]


def audit(url: str, entity: str):
    return q(url, "SELECT status, rows_read, rows_loaded, rows_quarantined FROM load_audit WHERE entity = :e "
                  "ORDER BY started_at", e=entity)


def test_arrests_fixture_loads_quarantines_and_keeps_ids_out(prefect_harness, settings_factory, duckdb_url):
    settings = settings_factory(duckdb_url, pseudonym_key=KEY)
    summary = arrests_flow(settings=settings, file=str(DATA / "arrests_export" / "arrests.csv"))[0]
    assert (summary["rows_read"], summary["rows_loaded"], summary["rows_quarantined"]) == (14, 4, 10)
    assert audit(duckdb_url, "arrests") == [("loaded", 14, 4, 10)]
    reasons = {r[0] for r in q(duckdb_url, "SELECT reason FROM quarantine_arrests")}
    for expected in ("arrest_id repeats", "person id is empty", "charge code is not a known IUCR code",
                     "arrest dated on or before the person's birth date", "after the run date"):
        assert any(expected in r for r in reasons), expected
    raw = " ".join(r[0] for r in q(duckdb_url, "SELECT raw_record FROM quarantine_arrests"))
    assert "P001" not in raw and "birth_date" not in raw.lower()  # person ids and birth dates stay out
    keys = [r[0] for r in q(duckdb_url, "SELECT person_key FROM fct_arrests")]
    assert all(len(k) == 64 for k in keys) and "P001" not in keys
    again = arrests_flow(settings=settings, file=str(DATA / "arrests_export" / "arrests.csv"))[0]
    assert again["status"] == "skipped"


def test_bad_arrests_file_is_one_line(prefect_harness, settings_factory, duckdb_url):
    settings = settings_factory(duckdb_url, pseudonym_key=KEY)
    with pytest.raises(Exception) as err:
        arrests_flow(settings=settings, file=str(DATA / "arrests_export" / "renamed_column.csv"))
    assert "renamed_column.csv" in str(err.value) and "\n" not in str(err.value)


def test_teds_discharges_fixture_and_real_sample(prefect_harness, settings_factory, duckdb_url):
    settings = settings_factory(duckdb_url)
    bad = teds_discharges_flow(settings=settings, files=[str(DATA / "treatment_discharges_teds" / "numeric.csv")])[0]
    assert (bad["rows_read"], bad["rows_loaded"], bad["rows_quarantined"]) == (6, 3, 3)
    real = teds_discharges_flow(settings=settings)[0]  # the configured 1,000-row 2023 sample
    assert (real["rows_read"], real["rows_loaded"] + real["rows_quarantined"]) == (1000, 1000)
    assert [r[1:] for r in audit(duckdb_url, "teds_state_discharges")] == [(6, 3, 3), (1000, real["rows_loaded"],
                                                                            real["rows_quarantined"])]


def test_provider_discharges_without_admissions_are_quarantined(prefect_harness, settings_factory, duckdb_url):
    settings = settings_factory(duckdb_url, pseudonym_key=KEY)
    out = provider_discharges_flow(settings=settings, file=str(DATA / "treatment_discharges_provider" / "discharges.csv"))
    assert [(s["rows_read"], s["rows_loaded"], s["rows_quarantined"]) for s in out] == [(9, 0, 9)]
    raw = " ".join(r[0] for r in q(duckdb_url, "SELECT raw_record FROM quarantine_treatment_discharges"))
    assert "C0000001" not in raw


# -- the outcomes group end to end on a small sample ------------------------------------------

def _sample_export(n_participants: int = 24, n_comparison: int = 120) -> pd.DataFrame:
    """Arrests of participants (P*) and non-participants (C*) in area 25: one prior arrest each
    (June 2016), a re-arrest in June 2017 for every 2nd participant and every 2nd comparison person."""
    rows = []
    people = [f"P{i:03d}" for i in range(n_participants)] + [f"C{i:03d}" for i in range(n_comparison)]
    for i, pid in enumerate(people):
        rows.append((pid, "2016-06-15", "0486"))
        if i % 2 == 0:
            rows.append((pid, "2017-06-20", "2027"))
    rows.append(("C000", "2018-12-01", "0486"))  # the data end: 12 months of follow-up for everyone
    return pd.DataFrame([{"ARREST_ID": f"AR{j:05d}", "PERSON_ID": p, "BIRTH_DATE": "1990-03-01", "SEX": "M",
                          "ARREST_DATE": d, "CHARGE_CODE": c, "AREA": "25", "SYNTHETIC": "Y"}
                         for j, (p, d, c) in enumerate(rows)])


def _programs(wh: Warehouse, key: bytes, n_participants: int = 24) -> None:
    now = pd.Timestamp.now().floor("s")
    lineage = {"source": "programs_demo", "batch_id": "test", "loaded_at": now}
    program = pd.DataFrame([{"program_id": "demo-001", "name": "Support group", "program_type": "support_group",
                             "neighborhood_id": "25", "geocode_method": "latlon", "geocode_precision": "point",
                             "started_on": pd.Timestamp("2017-01-01"), "is_synthetic": True, **lineage}])
    session = pd.DataFrame([{"session_id": "demo-001-s1", "program_id": "demo-001",
                             "session_date": pd.Timestamp("2017-01-10"), "period": "session",
                             "attendees": n_participants, "is_synthetic": True, **lineage}])
    keys = pseudonymize(pd.Series([f"P{i:03d}" for i in range(n_participants)]), key)
    roster = pd.DataFrame({"session_id": "demo-001-s1", "participant_key": keys, "is_synthetic": True, **lineage})
    with wh.begin() as conn:
        for table, frame in (("dim_programs", program), ("fct_program_sessions", session),
                             ("fct_session_roster", roster)):
            wh.insert_frame(conn, table, frame)


def test_outcomes_group_runs_end_to_end(prefect_harness, settings_factory, duckdb_url):
    settings = settings_factory(duckdb_url, pseudonym_key=KEY)
    assert [slug for slug, _ in configured_feeds(settings, "outcomes")] == [
        "arrests_demo", "treatment_discharges_demo", "outcome_measures"]
    folder = settings.work_dir / "demo" / "outcomes"
    folder.mkdir(parents=True)
    _sample_export().to_csv(folder / "arrests.csv", index=False)
    shutil.copy(DATA / "treatment_discharges_provider" / "discharges.csv", folder / "treatment_discharges.csv")
    for name in ("arrests", "treatment_discharges"):
        (folder / f"{name}.meta.json").write_text(json.dumps({"synthetic": True}))
    with Warehouse(duckdb_url) as wh:
        prepare_warehouse(wh)
        _programs(wh, pseudonym_key(settings))
    out = run_feed_group("outcomes", settings=settings)
    assert {s["table"]: (s["rows_read"], s["rows_loaded"] + s["rows_quarantined"]) for s in out} == {
        "fct_arrests": (217, 217), "fct_treatment_discharges": (9, 9)}
    assert q(duckdb_url, "SELECT count(*), sum(CAST(is_participant AS INT)) FROM lnk_persons") == [(144, 24)]
    est = q(duckdb_url, "SELECT n_sets, participant_risk, comparison_risk, risk_ratio FROM outcome_estimates "
                        "WHERE program_id = 'demo-001' AND charge = 'any' AND window_months = 12")
    assert est == [(24, pytest.approx(0.5), pytest.approx(0.5, abs=0.15), pytest.approx(1.0, abs=0.35))]
    res = q(duckdb_url, "SELECT n_participants, n_sets, is_synthetic FROM outcome_program_results "
                        "WHERE charge = 'any' AND window_months = 12")
    assert res == [(24, 24, True)]
    assert q(duckdb_url, "SELECT count(*) FROM outcome_survival WHERE program_id = 'demo-001'")[0][0] > 0
    assert q(duckdb_url, "SELECT count(*) FROM outcome_teds_benchmark") == [(0,)]  # no TEDS-D rows loaded here

    # A rerun with nothing new skips the outcomes step; a new load (another arrest export) recomputes it.
    state = settings.work_dir / "state" / "outcome_measures.json"
    first = state.read_text()
    with Warehouse(duckdb_url) as wh:
        with wh.begin() as conn:
            conn.execute(sa.text("DELETE FROM outcome_estimates"))  # a rerun of the step would write them back
    run_feed_group("outcomes", settings=settings)
    assert state.read_text() == first and q(duckdb_url, "SELECT count(*) FROM outcome_estimates") == [(0,)]
    with Warehouse(duckdb_url) as wh:
        with wh.begin() as conn:
            conn.execute(sa.text("INSERT INTO load_audit SELECT 'new-load' AS audit_id, * EXCLUDE (audit_id) "
                                 "FROM load_audit WHERE entity = 'arrests'"))  # stands in for a new load
    run_feed_group("outcomes", settings=settings)
    assert state.read_text() != first and q(duckdb_url, "SELECT count(*) FROM outcome_estimates")[0][0] > 0

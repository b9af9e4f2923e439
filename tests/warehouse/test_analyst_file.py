"""The embedded default's access control: the warehouse file is private, the analyst file holds the analyst set only."""
from __future__ import annotations

import duckdb
import pytest

from warehouse.analyst_file import analyst_file_tables, analyst_tables, file_mode, make_private, publish_analyst_file
from warehouse.dbt_project import duckdb_config
from warehouse.resource import Warehouse
from warehouse.tables import PERSON_LEVEL_TABLES

# Columns that identify or locate a person (the person-level tables' own columns).
PERSON_COLUMNS = {"client_key", "participant_key", "residence_zip", "admission_id", "provider_id", "raw_record",
                  "person_key", "arrest_id"}
TABLES = {
    "fct_treatment_admissions": "SELECT 'A1' AS admission_id, 'k' AS client_key, '60644' AS residence_zip",
    "fct_session_roster": "SELECT 'S1' AS session_id, 'p' AS participant_key",
    "quarantine_incidents": "SELECT 'b' AS batch_id, '{}' AS raw_record",
    "geocode_cache": "SELECT '5547 W MADISON ST' AS cache_key",
    "load_audit": "SELECT 'a' AS audit_id, 'quoted input' AS message",
    "stg_treatment__admissions": "SELECT 'k' AS client_key",
    "int_neighborhood_month": "SELECT 3 AS n_admissions",
    "mart_neighborhood_month": "SELECT '25' AS neighborhood_id, NULL::BIGINT AS n_admissions, TRUE AS n_admissions_suppressed",
    "dim_dates": "SELECT DATE '2016-01-01' AS date",
    "dim_neighborhoods": "SELECT '25' AS neighborhood_id, 'AUSTIN' AS name",
    "ref_teds_codes": "SELECT 'SUB1' AS variable, 5 AS code",
    "fct_incidents": "SELECT 'I1' AS incident_id",
    "trend_signals": "SELECT 'drug_incidents' AS metric",
    "program_impact": "SELECT 'demo-1' AS program_id",
    "alert_episodes": "SELECT 'glm_baseline|x' AS episode_id",
    "mart_neighborhood_month__dbt_tmp": "SELECT 1 AS x",
    "some_new_table": "SELECT 1 AS x",
    # outcomes (issue 11): person-level feeds, linked rows and pre-mart results stay out; the marts go in
    "fct_arrests": "SELECT 'AR1' AS arrest_id, 'k' AS person_key",
    "fct_treatment_discharges": "SELECT 'A1' AS admission_id, 'k' AS client_key",
    "lnk_persons": "SELECT 'k' AS person_key, 2 AS n_arrests",
    "lnk_outcome_sets": "SELECT 1 AS set_id, 'k' AS person_key",
    "outcome_estimates": "SELECT 'demo-001' AS program_id, 3 AS n_sets",
    "outcome_program_results": "SELECT 'demo-001' AS program_id, NULL::BIGINT AS n_sets",
    "mart_program_outcomes": "SELECT 'demo-001' AS program_id, NULL::BIGINT AS n_sets, TRUE AS n_sets_suppressed",
}
ANALYST_SET = {"mart_neighborhood_month", "dim_dates", "dim_neighborhoods", "ref_teds_codes", "fct_incidents",
               "trend_signals", "program_impact", "alert_episodes",
               "mart_program_outcomes"}


@pytest.fixture
def warehouse(tmp_path):
    path = tmp_path / "pulse.duckdb"
    con = duckdb.connect(str(path))
    for name, sql in TABLES.items():
        con.execute(f'CREATE TABLE "{name}" AS {sql}')
    con.execute("CREATE VIEW stg_programs__roster AS SELECT * FROM fct_session_roster")
    con.close()
    return path


def test_the_analyst_file_holds_exactly_the_analyst_set(warehouse, tmp_path):
    target = tmp_path / "analyst.duckdb"
    tables = publish_analyst_file(warehouse, target, duckdb_config())
    assert set(tables) == ANALYST_SET == set(analyst_tables([*TABLES, "stg_programs__roster"]))
    published = analyst_file_tables(target)
    assert set(published) == ANALYST_SET
    assert not set(published) & set(PERSON_LEVEL_TABLES)
    assert not [t for t in published if t.startswith(("stg_", "int_", "quarantine_"))]
    assert not {c for cols in published.values() for c in cols} & PERSON_COLUMNS
    assert file_mode(target) == 0o644 and not (tmp_path / "analyst.duckdb.partial").exists()


def test_republishing_replaces_the_file_and_works_beside_an_open_engine(warehouse, tmp_path):
    target = tmp_path / "analyst.duckdb"
    publish_analyst_file(warehouse, target, duckdb_config())
    engine = Warehouse(f"duckdb:///{warehouse}")  # the flow may still hold the pipeline's engine
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE trend_signals")
        assert "trend_signals" not in publish_analyst_file(warehouse, target, duckdb_config())
    finally:
        engine.close()
    assert "trend_signals" not in analyst_file_tables(target)


def test_the_warehouse_file_is_made_private(warehouse):
    assert [p.name for p in make_private(warehouse)] == ["pulse.duckdb"]
    assert file_mode(warehouse) == 0o600

"""The dbt project on DuckDB and PostgreSQL: grid, counts against the facts, suppression, dbt tests, failures."""
from __future__ import annotations

import pickle
import re
from datetime import date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from flows.city_inputs import city_neighborhoods, city_population
from tasks.geocode.neighborhoods import neighborhood_dimension
from tests.support.dbt import dbt, dbt_build
from warehouse.code_table_loader import load_code_tables
from warehouse.dbt_project import analyst_models, dbt_paths, restricted_models
from warehouse.dbt_results import ModelBuildError, read_artifact
from warehouse.resource import Warehouse
from warehouse.load import init_warehouse, replace_table
from warehouse.tables import dim_neighborhoods, metadata

NOW = datetime(2026, 1, 1)
DOCS = Path(__file__).resolve().parents[2] / "docs" / "warehouse.md"
LINEAGE = {"source": "hand", "batch_id": "hand-1", "loaded_at": NOW}
AUSTIN, DOUGLAS, ROGERS_PARK = "25", "35", "1"


def rows(engine, sql: str, **params) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql), params).all()]


def one(engine, sql: str, **params):
    return rows(engine, sql, **params)[0]


def _admission(i: int, area: str | None, day: date, referral: int = 1, substance: int = 2) -> dict:
    return {"admission_id": f"A{i}", "provider_id": "P1", "admitted_on": day, "client_key": f"k{i}",
            "age_group": 5, "sex": 1, "primary_substance": substance, "secondary_substance": 1, "route": 1,
            "frequency": 1, "referral_source": referral, "prior_episodes": 0, "service_setting": 7,
            "residence_zip": "60644", "is_synthetic": True, "neighborhood_id": area,
            "geocode_method": "address" if area else None, "geocode_precision": "address" if area else None,
            "match_score": 1.0, **LINEAGE}


def insert_hand_rows(engine) -> None:
    """Admissions, programs, sessions, roster and facilities small enough to reason about."""
    admissions = (
        # Austin, January: 12 admissions, all criminal-justice referred, 4 with an opioid primary.
        [_admission(i, AUSTIN, date(2016, 1, 5), referral=7, substance=5 if i < 4 else 2) for i in range(12)]
        # Douglas, January: 3 admissions -> suppressed in the mart.
        + [_admission(100 + i, DOUGLAS, date(2016, 1, 6)) for i in range(3)]
        # Not geocoded: counts citywide only. Douglas, February: 1.
        + [_admission(200, None, date(2016, 1, 6)), _admission(201, DOUGLAS, date(2016, 2, 10))]
    )
    program = {"sponsor": "Demo", "site_name": "Hall", "latitude": 41.88, "longitude": -87.76,
               "geocode_method": "address", "geocode_precision": "address", "started_on": date(2016, 1, 1),
               "ended_on": None, "is_synthetic": True, **LINEAGE}
    programs = [
        {"program_id": "demo-001", "name": "Austin Recovery Circle", "program_type": "support_group",
         "neighborhood_id": AUSTIN, **program},
        {"program_id": "cpl-douglass", "name": "Douglass Branch", "program_type": "library",
         "neighborhood_id": DOUGLAS, **program},
    ]
    session = {"is_synthetic": True, **LINEAGE}
    sessions = [
        {"session_id": f"demo-001-{d}", "program_id": "demo-001", "session_date": date(2016, 1, d), "period": "session",
         "attendees": n, "new_participants": None, **session} for d, n in ((4, 5), (11, 4), (18, 6))
    ] + [
        {"session_id": "cpl-douglass-2016-01", "program_id": "cpl-douglass", "session_date": date(2016, 1, 1),
         "period": "month", "attendees": 5000, "new_participants": None, **session},
        {"session_id": "cpl-douglass-2016-02", "program_id": "cpl-douglass", "session_date": date(2016, 2, 1),
         "period": "month", "attendees": 8, "new_participants": None, **session},
    ]
    # 7 distinct participants over the three Austin sessions -> suppressed.
    roster = [{"session_id": f"demo-001-{d}", "participant_key": f"p{k}", **session}
              for d, keys in ((4, range(5)), (11, range(3, 7)), (18, range(6))) for k in keys]
    facility = {"street": "5547 W MADISON ST", "city": "Chicago", "state": "IL", "zip": "60644", "latitude": 41.88,
                "longitude": -87.76, "neighborhood_id": AUSTIN, "geocode_precision": "point",
                "batch_id": "hand-1", "loaded_at": NOW}
    facilities = [  # the same site in two lists -> one facility
        {"facility_id": "f1", "name": "Austin Clinic", "source": "samhsa_locator", "is_otp": True, **facility},
        {"facility_id": "f2", "name": "AUSTIN CLINIC", "source": "samhsa_otp", "is_otp": True, **facility},
    ]
    with engine.begin() as conn:
        for table, records in (("fct_treatment_admissions", admissions), ("dim_programs", programs),
                               ("fct_program_sessions", sessions), ("fct_session_roster", roster),
                               ("dim_treatment_facilities", facilities)):
            conn.execute(metadata.tables[table].insert(), records)


def prepare(engine, settings) -> None:
    """The real neighborhoods and code tables, as the feed flows and the models flow leave them."""
    init_warehouse(engine)
    replace_table(engine, dim_neighborhoods, neighborhood_dimension(
        city_neighborhoods(settings), city_population(settings), settings.city.city.projected_crs))
    load_code_tables(engine, settings.data_dir, settings.data_dir / "chicago_crimes/iucr_codes.csv")


@pytest.fixture
def hand_warehouse(warehouse_url, settings_factory):
    """A warehouse with the real neighborhoods, the code tables and the hand rows (no police data)."""
    settings = settings_factory(warehouse_url)
    engine = Warehouse(warehouse_url)
    prepare(engine, settings)
    insert_hand_rows(engine)
    yield engine
    engine.close()


MONTH_SQL = ("SELECT n_admissions, n_admissions_suppressed, admissions_per_10k, n_cj_admissions, n_opioid_admissions, "
             "n_opioid_admissions_suppressed, opioid_admissions_per_10k FROM mart_neighborhood_month "
             "WHERE neighborhood_id = :area AND month_start = :month")
MODEL_STATUSES = {"success"}
TEST_STATUSES = {"pass"}


@pytest.mark.slow
def test_models_flow_on_a_loaded_warehouse(prefect_harness, settings_factory, warehouse_url, data_dir, tmp_path):
    from flows.models import models_flow
    from flows.police_incidents import police_incidents_flow
    from tests.police_files import real_rows, write_csv

    settings = settings_factory(warehouse_url)
    loaded = police_incidents_flow(settings=settings,
                                   files=[str(write_csv(real_rows(data_dir, 200, "22"), tmp_path / "p.csv"))])
    assert loaded[0]["rows_loaded"] >= 195
    engine = Warehouse(warehouse_url)
    try:
        insert_hand_rows(engine)
        results = models_flow(settings=settings, node_tasks=False)
        by_type = {}
        for r in results:
            by_type.setdefault(r["type"], []).append(r)
        assert {r["status"] for r in by_type["model"]} == MODEL_STATUSES
        assert {r["status"] for r in by_type["test"]} == TEST_STATUSES and len(by_type["test"]) >= 60
        assert {r["name"] for r in by_type["model"]} == set(restricted_models()) | set(analyst_models())
        by_name = {r["name"]: r for r in results}
        assert by_name["mart_neighborhood_month"]["rows"] == 77 * 2  # January and February 2016

        # Full grid: every area in every month, once.
        grid = one(engine, "SELECT count(*), count(DISTINCT neighborhood_id), count(DISTINCT month_start) "
                           "FROM mart_neighborhood_month")
        assert grid == (154, 77, 2)

        # Police counts equal direct SQL over the facts (zeros where nothing happened).
        direct = rows(engine, """
            SELECT neighborhood_id, CAST(date_trunc('month', occurred_at) AS DATE), count(*),
                   count(*) FILTER (WHERE is_drug_offense), count(*) FILTER (WHERE is_drug_offense AND is_arrest),
                   count(*) FILTER (WHERE offense_category = 'possession'),
                   count(*) FILTER (WHERE offense_category = 'sale_delivery')
            FROM fct_incidents WHERE neighborhood_id IS NOT NULL GROUP BY 1, 2""")
        mart = {(r[0], r[1]): r[2:] for r in rows(engine, """
            SELECT neighborhood_id, month_start, n_incidents, n_drug_incidents, n_drug_arrests,
                   n_possession_incidents, n_sale_delivery_incidents FROM mart_neighborhood_month""")}
        assert sum(r[2] for r in direct) >= 195 and sum(r[3] for r in direct) > 0
        for r in direct:
            assert mart[(r[0], r[1])] == r[2:]
        jan = date(2016, 1, 1)
        assert sum(v[0] for k, v in mart.items() if k[1] == jan) == sum(r[2] for r in direct)
        assert all(v == (0, 0, 0, 0, 0) for k, v in mart.items() if k[1] == jan and k not in {(r[0], r[1]) for r in direct})
        # February is outside the police data (one day, 2016-01-03): NULL, not 0.
        assert one(engine, "SELECT count(*), count(n_incidents) FROM mart_neighborhood_month "
                           "WHERE month_start = :m AND NOT has_police_data", m=date(2016, 2, 1)) == (77, 0)
        total = one(engine, "SELECT count(*), count(*) FILTER (WHERE is_drug_offense) FROM fct_incidents")
        assert one(engine, "SELECT n_incidents, n_drug_incidents FROM mart_citywide_daily WHERE date = :d",
                   d=date(2016, 1, 3)) == total
        assert one(engine, "SELECT count(*), sum(n_drug_incidents) FROM mart_neighborhood_daily") == \
            (77, sum(r[3] for r in direct))

        # Suppression: 3 -> NULL + flag, 12 -> 12, 0 -> 0; rates follow the suppressed counts.
        pop = dict(rows(engine, "SELECT neighborhood_id, population_2010 FROM dim_neighborhoods"))
        austin = one(engine, MONTH_SQL, area=AUSTIN, month=jan)
        assert austin[:2] == (12, False) and austin[2] == pytest.approx(12 * 10000 / pop[AUSTIN])
        assert austin[3:6] == (12, None, True) and austin[6] is None
        assert one(engine, MONTH_SQL, area=DOUGLAS, month=jan)[:3] == (None, True, None)
        assert one(engine, MONTH_SQL, area=ROGERS_PARK, month=jan)[:3] == (0, False, 0.0)
        assert one(engine, "SELECT n_admissions FROM int_neighborhood_month WHERE neighborhood_id = :a AND month_start = :m",
                   a=DOUGLAS, m=jan) == (3,)
        # Data quality mirrors the audit.
        assert rows(engine, "SELECT rows_read, rows_loaded, rows_quarantined FROM mart_data_quality") == \
            rows(engine, "SELECT rows_read, rows_loaded, rows_quarantined FROM load_audit")
        assert one(engine, "SELECT count(*) FROM dim_offense_types WHERE iucr = '0486' AND NOT is_drug_offense") == (1,)
        assert one(engine, "SELECT label, is_opioid FROM dim_substances WHERE code = 5") == ("Heroin", True)
    finally:
        engine.close()

    # Source freshness ran against each feed's cadence: the hand rows (loaded_at 2026-01-01) are stale.
    paths = dbt_paths(settings.work_dir)
    freshness = {r["unique_id"].split(".", 2)[2]: r["status"] for r in read_artifact(paths.target / "sources.json")["results"]}
    assert freshness["police.fct_incidents"] == "pass" and freshness["treatment.fct_treatment_admissions"] == "error"
    if warehouse_url.startswith("duckdb"):
        # Embedded default: the warehouse file is private; the analyst file holds what pulse_analyst may read.
        from warehouse.analyst_file import analyst_file_tables, analyst_tables, file_mode
        from warehouse.dbt_project import dbt_target

        assert file_mode(dbt_target(warehouse_url).duckdb_path) == 0o600
        engine = Warehouse(warehouse_url)
        try:
            objects = [n for (n,) in rows(engine, "SELECT table_name FROM information_schema.tables "
                                                  "WHERE table_schema = 'main'")]
        finally:
            engine.close()
        published = analyst_file_tables(settings.work_dir / "analyst.duckdb")
        assert set(published) == set(analyst_tables(objects)) >= set(analyst_models()) | {"fct_incidents"}
        assert not set(published) & ({"fct_treatment_admissions", "fct_session_roster", "load_audit", "geocode_cache"}
                                     | set(restricted_models()))
    # The static docs site is one file under the work dir, with the manifest and catalog inlined.
    docs = paths.docs.read_text(encoding="utf-8")
    assert paths.docs.is_relative_to(settings.work_dir.resolve()) and "mart_neighborhood_month" in docs
    assert "manifest.json" not in docs.split("<script")[0]


@pytest.mark.slow
def test_programs_facilities_and_citywide_suppression(hand_warehouse, warehouse_url, tmp_path):
    engine = hand_warehouse
    built = dbt_build(warehouse_url, tmp_path / "work")
    jan, feb = date(2016, 1, 1), date(2016, 2, 1)
    programs = ("SELECT n_program_sessions, n_program_attendees, n_program_participants, "
                "n_program_participants_suppressed, n_library_visits, n_library_visits_suppressed, "
                "n_treatment_facilities, n_otp_facilities FROM mart_neighborhood_month "
                "WHERE neighborhood_id = :a AND month_start = :m")
    assert one(engine, programs, a=AUSTIN, m=jan) == (3, 15, None, True, 0, False, 1, 1)
    assert one(engine, programs, a=DOUGLAS, m=jan) == (0, 0, 0, False, 5000, False, 0, 0)
    assert one(engine, programs, a=DOUGLAS, m=feb)[4:6] == (None, True)
    assert one(engine, "SELECT n_program_participants FROM int_neighborhood_month WHERE neighborhood_id = :a "
                       "AND month_start = :m", a=AUSTIN, m=jan) == (7,)
    # No police data at all: police counts are NULL (no data), never 0.
    assert one(engine, "SELECT count(n_drug_incidents), bool_or(has_police_data) FROM mart_neighborhood_month") == (0, False)
    daily = "SELECT n_admissions, n_admissions_suppressed FROM mart_citywide_daily WHERE date = :d"
    assert one(engine, daily, d=date(2016, 1, 5)) == (12, False)
    assert one(engine, daily, d=date(2016, 1, 6)) == (None, True)  # 3 + 1 without a neighborhood
    assert one(engine, daily, d=date(2016, 1, 7)) == (0, False)
    weekly = "SELECT n_admissions, n_admissions_suppressed, n_treatment_days FROM mart_citywide_weekly WHERE week_start = :w"
    assert one(engine, weekly, w=date(2016, 1, 4)) == (16, False, 6)  # treatment data starts on Tuesday Jan 5
    assert one(engine, weekly, w=date(2016, 2, 8)) == (None, True, 3)  # Feb 10 is the last treatment day
    assert one(engine, "SELECT min(date), max(date), count(*) FILTER (WHERE is_weekend) FROM dim_dates") == \
        (date(2016, 1, 1), date(2016, 2, 29), 18)
    assert one(engine, "SELECT week_start, day_of_week FROM dim_dates WHERE date = :d", d=date(2016, 1, 10)) == \
        (date(2016, 1, 4), 7)

    # Every model's yml documents exactly its built columns; docs/warehouse.md's example queries run.
    manifest = read_artifact(dbt_paths(tmp_path / "work").manifest)
    for node in (n for n in manifest["nodes"].values() if n["resource_type"] == "model"):
        columns = rows(engine, "SELECT column_name FROM information_schema.columns WHERE table_name = :t "
                               "AND table_schema = current_schema()", t=node["name"])
        assert sorted(c for (c,) in columns) == sorted(node["columns"]), node["name"]
        assert node["description"].startswith("Grain: "), node["name"]
        assert all(c["description"] for c in node["columns"].values()), node["name"]
    queries = [block.split("```")[0].strip().rstrip(";") for block in DOCS.read_text().split("```sql")[1:]]
    assert len(queries) >= 6
    for sql in queries:
        rows(engine, sql)

    # A lower threshold shows the 3 (the model is rebuilt and re-tested at that threshold) ...
    dbt_build(warehouse_url, tmp_path / "work", threshold=2, select=("mart_neighborhood_month",))
    assert one(engine, MONTH_SQL, area=DOUGLAS, month=jan)[:2] == (3, False)
    # ... which the small-cell test catches at the real threshold, naming the column and the value.
    error, tested = dbt(warehouse_url, tmp_path / "work", "test", select=("mart_neighborhood_month,test_name:no_small_cells",))
    (check,) = tested
    assert error and check["status"] == "fail" and check["failures"] >= 1
    assert len([r for r in built if r["type"] == "test"]) >= 60


@pytest.mark.slow
def test_a_failing_dbt_test_fails_the_flow_with_one_line(prefect_harness, settings_factory, duckdb_url):
    from flows.models import models_flow

    settings = settings_factory(duckdb_url)
    engine = Warehouse(duckdb_url)
    try:
        prepare(engine, settings)
        insert_hand_rows(engine)
        models_flow(settings=settings, node_tasks=False)
        analyst = settings.work_dir / "analyst.duckdb"
        published = analyst.stat().st_mtime_ns
        # A session with a period the schema does not know: the accepted_values test on staging fails.
        with engine.begin() as conn:
            conn.execute(metadata.tables["fct_program_sessions"].insert(), [
                {"session_id": "demo-001-99", "program_id": "demo-001", "session_date": date(2016, 1, 25),
                 "period": "weekly", "attendees": 4, "is_synthetic": True, **LINEAGE}])
    finally:
        engine.close()
    state = models_flow(settings=settings, node_tasks=False, return_state=True)
    assert state.is_failed()
    with pytest.raises(ModelBuildError) as err:
        state.result()
    message = str(err.value)
    # One line: the test, the model and column it checks, the failing rows (value, count).
    assert "\n" not in message
    assert message.startswith("warehouse models (dbt): test accepted_values_stg_programs__sessions_period__session__month "
                              "on stg_programs__sessions.period: 1 failing row, e.g. (weekly, 1). Fix the model"), message
    assert pickle.loads(pickle.dumps(err.value)).problem == err.value.problem
    results = {r["name"]: r["status"] for r in node_results_of(settings)}
    assert results["mart_neighborhood_month"] == "skipped" and results["stg_programs__sessions"] == "success"
    # Marts keep their previous version and the analyst file is not republished.
    engine = Warehouse(duckdb_url)
    try:
        assert one(engine, "SELECT count(*) FROM mart_neighborhood_month") == (77 * 2,)
    finally:
        engine.close()
    assert analyst.stat().st_mtime_ns == published


def node_results_of(settings) -> list[dict]:
    from warehouse.dbt_results import node_results

    paths = dbt_paths(settings.work_dir)
    return node_results(read_artifact(paths.build_results), read_artifact(paths.manifest))

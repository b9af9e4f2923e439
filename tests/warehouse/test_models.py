"""SQL models on DuckDB and PostgreSQL: grid, counts against the facts, suppression, build order."""
from __future__ import annotations

import pickle
from datetime import date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from flows.city_inputs import city_neighborhoods, city_population
from schemas.errors import ConfigError
from tasks.geocode.neighborhoods import neighborhood_dimension
from warehouse.resource import Warehouse
from warehouse.load import init_warehouse, replace_table
from warehouse.tables import dim_neighborhoods, metadata
from warehouse.models import (ModelBuildError, build_models, discover_models, model_variables, order_models,
                              render, restricted_models)

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


@pytest.fixture
def hand_warehouse(warehouse_url, settings_factory):
    """A warehouse with the real neighborhoods and the hand rows (no police data)."""
    settings = settings_factory(warehouse_url)
    engine = Warehouse(warehouse_url)
    init_warehouse(engine)
    replace_table(engine, dim_neighborhoods, neighborhood_dimension(
        city_neighborhoods(settings), city_population(settings), settings.city.city.projected_crs))
    insert_hand_rows(engine)
    yield engine
    engine.close()


MONTH_SQL = ("SELECT n_admissions, n_admissions_suppressed, admissions_per_10k, n_cj_admissions, n_opioid_admissions, "
             "n_opioid_admissions_suppressed, opioid_admissions_per_10k FROM mart_neighborhood_month "
             "WHERE neighborhood_id = :area AND month_start = :month")


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
        results = models_flow(settings=settings)
        assert {r["status"] for r in results} == {"built"}
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


def test_programs_facilities_and_citywide_suppression(hand_warehouse):
    engine = hand_warehouse
    build_models(engine)
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

    # docs/warehouse.md: documented columns match the built tables, and its example queries run.
    documented, queries = documented_models()
    assert {n for n in discover_models() if n.startswith(("mart_", "dim_"))} <= set(documented)
    for name, columns in documented.items():
        built = rows(engine, "SELECT column_name FROM information_schema.columns WHERE table_name = :t", t=name)
        assert sorted(c for (c,) in built) == sorted(columns), name
    assert len(queries) >= 6
    for sql in queries:
        rows(engine, sql)

    # A lower threshold shows the 3; the table is replaced in place.
    build_models(engine, threshold=2, select=["mart_neighborhood_month"])
    assert one(engine, MONTH_SQL, area=DOUGLAS, month=jan)[:2] == (3, False)


def documented_models() -> tuple[dict[str, list[str]], list[str]]:
    """Return {model: documented column names} and the SQL examples of docs/warehouse.md."""
    models, text = discover_models(), DOCS.read_text(encoding="utf-8")
    documented: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        if line.startswith("### "):
            name = line[4:].strip().strip("`")
            current = name if name in models else None
            if current:
                documented[current] = []
        elif current and line.startswith("| `"):
            documented[current].append(line.split("`")[1])
    queries = [block.split("```")[0].strip().rstrip(";") for block in text.split("```sql")[1:]]
    return documented, queries


def _write(folder: Path, name: str, sql: str, materialized: str = "table") -> None:
    (folder / f"{name}.sql").write_text(f"-- grain: one row per test row\n-- materialized: {materialized}\n{sql}\n")


def test_failing_model_keeps_its_previous_version(warehouse_url, tmp_path):
    engine = Warehouse(warehouse_url)
    try:
        init_warehouse(engine)
        with engine.begin() as conn:
            conn.execute(dim_neighborhoods.insert(), [{"neighborhood_id": str(i), "name": f"N{i}"} for i in range(3)])
        folder = tmp_path / "models"
        folder.mkdir()
        _write(folder, "stg_hoods", "SELECT neighborhood_id, name FROM {{ source('dim_neighborhoods') }}", "view")
        # Literals with % and :name reach the database verbatim (no driver placeholder parsing).
        _write(folder, "mart_a", "SELECT neighborhood_id, 'a%b :c' AS note FROM {{ ref('stg_hoods') }}")
        _write(folder, "mart_b", "SELECT count(*) AS n FROM {{ ref('mart_a') }}")
        assert [r["rows"] for r in build_models(engine, models_dir=folder)] == [3, 3, 1]
        assert rows(engine, "SELECT DISTINCT note FROM mart_a") == [("a%b :c",)]

        _write(folder, "mart_a", "SELECT no_such_column FROM {{ ref('stg_hoods') }}")
        _write(folder, "stg_hoods", "SELECT neighborhood_id, name FROM {{ source('dim_neighborhoods') }}", "table")
        with pytest.raises(ModelBuildError) as e:
            build_models(engine, models_dir=folder)
        assert "mart_a" in str(e.value) and "\n" not in str(e.value)
        assert pickle.loads(pickle.dumps(e.value)).results == e.value.results
        status = {r["name"]: r["status"] for r in e.value.results}
        assert status == {"stg_hoods": "built", "mart_a": "failed", "mart_b": "skipped"}
        assert one(engine, "SELECT count(*) FROM mart_a") == (3,)
        assert one(engine, "SELECT n FROM mart_b") == (3,)
        kinds = dict(rows(engine, "SELECT table_name, table_type FROM information_schema.tables "
                                  "WHERE table_name IN ('stg_hoods', 'mart_a', 'mart_a__new')"))
        assert kinds == {"stg_hoods": "BASE TABLE", "mart_a": "BASE TABLE"}  # view -> table; no leftovers
    finally:
        engine.close()


def test_real_models_are_ordered_by_dependency():
    models = discover_models()
    order = [m.name for m in order_models(models)]
    assert set(order) == set(models) and len(order) == len(models)
    for i, name in enumerate(order):
        assert set(models[name].refs) <= set(order[:i]), name
    layers = [models[n].layer for n in order]
    assert layers == sorted(layers, key=("stg", "dim", "int", "mart").index)
    assert {"mart_neighborhood_month", "mart_citywide_daily", "mart_citywide_weekly", "mart_neighborhood_daily",
            "mart_data_quality", "dim_dates", "dim_offense_types", "dim_substances", "dim_referral_sources",
            "dim_age_groups", "int_neighborhood_month"} <= set(models)
    assert all(models[n].materialized == "view" for n in order if n.startswith("stg_"))
    restricted = restricted_models()
    assert {"int_neighborhood_month", "stg_treatment__admissions", "stg_programs__roster"} <= set(restricted)
    assert not [n for n in restricted if n.startswith(("mart_", "dim_"))]


BAD_MODELS = {
    "cycle": ({"int_a": "SELECT * FROM {{ ref('int_b') }}", "int_b": "SELECT * FROM {{ ref('int_a') }}"},
              "cycle: int_"),
    "unknown-ref": ({"mart_a": "SELECT * FROM {{ ref('int_missing') }}"}, "ref('int_missing') names no model"),
    "unknown-source": ({"stg_a": "SELECT * FROM {{ source('fct_missing') }}"}, "source('fct_missing')"),
    "mart-reads-source": ({"mart_a": "SELECT * FROM {{ source('fct_incidents') }}"}, "through a stg_ model"),
    "earlier-layer-reads-later": ({"stg_a": "SELECT * FROM {{ ref('mart_b') }}", "mart_b": "SELECT 1 AS x"},
                                  "later-layer model 'mart_b'"),
    "unknown-macro": ({"mart_a": "SELECT {{ run('rm') }}"}, "unknown macro 'run'"),
    "unrendered-placeholder": ({"mart_a": "SELECT {{ threshold }}"}, "not of the form"),
    "no-layer-prefix": ({"report": "SELECT 1 AS x"}, "no layer prefix"),
}


@pytest.mark.parametrize("files, message", list(BAD_MODELS.values()), ids=list(BAD_MODELS))
def test_bad_model_definitions_name_the_problem(tmp_path, files, message):
    for name, sql in files.items():
        _write(tmp_path, name, sql)
    with pytest.raises(ConfigError) as e:
        order_models(discover_models(tmp_path))
    assert message in str(e.value) and "\n" not in str(e.value)


def test_headers_are_required_and_views_read_only_sources(tmp_path):
    (tmp_path / "mart_a.sql").write_text("-- materialized: table\nSELECT 1 AS x\n")
    with pytest.raises(ConfigError, match="grain"):
        discover_models(tmp_path)
    _write(tmp_path, "mart_a", "SELECT 1 AS x", "ephemeral")
    with pytest.raises(ConfigError, match="view or table"):
        discover_models(tmp_path)
    _write(tmp_path, "mart_a", "SELECT 1 AS x")
    _write(tmp_path, "mart_v", "SELECT * FROM {{ ref('mart_a') }}", "view")
    with pytest.raises(ConfigError, match="Materialize it as a table"):
        discover_models(tmp_path)


@pytest.mark.parametrize("threshold", ["10", 0, -1, True, 10.0, "10; DROP TABLE fct_incidents"],
                         ids=["text", "zero", "negative", "bool", "float", "injection"])
def test_threshold_must_be_a_positive_int(threshold):
    with pytest.raises(ConfigError, match="small_cell_threshold"):
        model_variables(threshold)


def test_suppress_macro_renders_count_and_flag(tmp_path):
    _write(tmp_path, "mart_a", "SELECT {{ suppress('n_x') }}, {{ var('opioid_substance_codes') }} FROM t")
    sql = render(discover_models(tmp_path)["mart_a"], model_variables(7))
    assert 'CASE WHEN "n_x" BETWEEN 1 AND 7 THEN NULL ELSE "n_x" END AS "n_x"' in sql
    assert 'COALESCE("n_x" BETWEEN 1 AND 7, FALSE) AS "n_x_suppressed"' in sql
    assert "5, 6, 7 FROM t" in sql

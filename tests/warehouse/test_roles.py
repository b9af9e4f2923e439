"""Warehouse roles on PostgreSQL: analysts read dimensions, marts and trends, never person-level rows.

The PostgreSQL tests connect AS the login roles they create (this machine's pg_hba trusts
127.0.0.1, so a role can connect without its password). Roles are cluster-wide: each test names
them with a random suffix and drops them at teardown.
"""
from __future__ import annotations

import secrets
import uuid
from datetime import date, datetime
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
import typer
from pydantic import SecretStr
from typer.testing import CliRunner

from flows.cli.main import app as pulse_app
from schemas.errors import ConfigError
from warehouse.resource import Warehouse
from warehouse.tables import metadata
from warehouse.migrations import upgrade
from tests.support.dbt import dbt_build
from warehouse.code_table_loader import load_code_tables
from warehouse.dbt_project import analyst_models, restricted_models
from warehouse.roles import Roles, analyst_may_read, apply_grants, quote_name, setup_roles, split_grants

NOW = datetime(2026, 1, 1)
LINEAGE = {"source": "hand", "batch_id": "hand-1", "loaded_at": NOW}
# The brief's must-haves; every other object is checked against the policy in the sweep test.
ANALYST_READS = ["dim_neighborhoods", "mart_neighborhood_month", "trend_signals", "fct_incidents", "ref_teds_codes",
                 "dim_dates", "program_impact", "alert_episodes",
                 "mart_program_outcomes", "mart_rearrest_survival",
                 "mart_area_treatment_outcomes", "mart_teds_discharge_benchmark"]
ANALYST_DENIED = ["fct_treatment_admissions", "fct_session_roster", "quarantine_treatment_admissions",
                  "geocode_cache", "int_neighborhood_month", "stg_treatment__admissions", "stg_programs__roster",
                  "load_audit", "source_watermarks", "alembic_version",
                  # outcomes (issue 11): person-level feeds, linked rows, unsuppressed and pre-mart results
                  "fct_arrests", "fct_treatment_discharges", "quarantine_arrests", "lnk_persons", "lnk_outcome_sets",
                  "outcome_estimates", "outcome_curves", "outcome_program_results", "outcome_area_treatment",
                  "outcome_survival", "outcome_teds_benchmark"]


# -- policy and names (no database) ---------------------------------------------------------

@pytest.mark.parametrize("name", ANALYST_READS + ["mart_data_quality", "dim_programs", "ref_iucr_codes",
                                                  "fct_teds_state_admissions", "fct_program_sessions"])
def test_policy_opens_public_objects(name):
    assert analyst_may_read(name, restricted_models())


@pytest.mark.parametrize("name", ANALYST_DENIED + ["quarantine_incidents", "mart_neighborhood_month__new",
                                                   "mart_neighborhood_month__dbt_tmp", "dim_dates__dbt_backup",
                                                   "int_source_coverage", "spatial_ref_sys", "some_new_table"])
def test_policy_closes_private_and_unknown_objects(name):
    assert not analyst_may_read(name, restricted_models())


def test_only_public_tables_and_analyst_layers_are_readable():

    readable, closed = split_grants([*metadata.tables, *restricted_models(), *analyst_models()], restricted_models())
    assert set(analyst_models()) <= set(readable)
    assert not [n for n in readable if n.startswith(("stg_", "int_", "quarantine_"))]
    assert {"fct_treatment_admissions", "fct_session_roster", "geocode_cache", "load_audit",
            "source_watermarks"} <= set(closed)
    assert {n for n in readable if not n.startswith(("dim_", "mart_", "ref_"))} == {
        "fct_incidents", "fct_program_sessions", "fct_teds_state_admissions", "trend_signals", "program_impact",
        "alert_episodes"}


MALICIOUS = {
    "quote-injection": 'pulse_analyst"; DROP TABLE fct_incidents; --',
    "semicolon": "pulse_analyst;drop",
    "space": "pulse analyst",
    "upper-case": "Pulse_Analyst",
    "reserved-pg-prefix": "pg_read_all_data",
    "too-long": "a" * 64,
    "empty": "",
    "leading-digit": "1analyst",
}


@pytest.mark.parametrize("name", MALICIOUS.values(), ids=MALICIOUS.keys())
def test_bad_role_and_schema_names_are_rejected(name, duckdb_url):
    with pytest.raises(ConfigError):
        Roles(analyst=name)
    with pytest.raises(ConfigError):
        Roles(loader=name)
    with pytest.raises(ConfigError):
        quote_name(name, "schema")
    engine = Warehouse(duckdb_url)
    with pytest.raises(ConfigError):  # checked before the engine is even looked at
        apply_grants(engine, schema=name)
    with pytest.raises(ConfigError):
        setup_roles(engine, logins=[(name, "analyst", None)])
    engine.close()


def test_same_name_for_both_roles_is_rejected():
    with pytest.raises(ConfigError, match="different names"):
        Roles(loader="pulse_x", analyst="pulse_x")


def test_duckdb_has_no_roles(duckdb_url):
    engine = Warehouse(duckdb_url)
    upgrade(engine)
    assert apply_grants(engine).skipped == "DuckDB has no roles"
    assert setup_roles(engine, logins=[("alice", "analyst", SecretStr("x"))]).skipped == "DuckDB has no roles"
    engine.close()


def test_cli_init_on_duckdb_creates_tables_and_explains_roles(duckdb_url):
    result = CliRunner().invoke(_app(), ["warehouse", "init"], env={"PULSE_WAREHOUSE_URL": duckdb_url})
    assert result.exit_code == 0, result.output
    assert "DuckDB has no roles" in result.output and "PostgreSQL" in result.output
    engine = Warehouse(duckdb_url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM fct_incidents")).scalar_one() == 0
    engine.close()


# -- PostgreSQL -----------------------------------------------------------------------------

def _app() -> typer.Typer:
    return pulse_app


@pytest.fixture
def names(postgres_url):
    """Unique role names for one test; dropped (with their grants) at teardown."""
    suffix = uuid.uuid4().hex[:8]
    ns = SimpleNamespace(roles=Roles(loader=f"pulse_loader_{suffix}", analyst=f"pulse_analyst_{suffix}"),
                         analyst_login=f"pulse_alice_{suffix}", loader_login=f"pulse_etl_{suffix}",
                         stranger=f"pulse_stranger_{suffix}")
    yield ns
    everyone = [ns.analyst_login, ns.loader_login, ns.stranger, ns.roles.loader, ns.roles.analyst]
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        found = set(conn.execute(sa.text("SELECT rolname FROM pg_roles WHERE rolname = ANY(:n)"),
                                 {"n": everyone}).scalars())
        for role in (r for r in everyone if r in found):
            conn.execute(sa.text(f'REASSIGN OWNED BY "{role}" TO CURRENT_USER'))
            conn.execute(sa.text(f'DROP OWNED BY "{role}"'))
            conn.execute(sa.text(f'DROP ROLE "{role}"'))
    admin.dispose()


def insert_rows(engine) -> None:
    """Two areas, two incidents, a program session, person-level rows, a quarantined row, a cache row and a signal."""
    admission = {"provider_id": "P1", "admitted_on": date(2016, 1, 5), "client_key": "k", "age_group": 5, "sex": 1,
                 "primary_substance": 5, "referral_source": 7, "is_synthetic": True, "neighborhood_id": "25", **LINEAGE}
    incident = {"occurred_at": datetime(2016, 1, 4, 10), "offense_category": "possession", "is_drug_offense": True,
                "is_arrest": True, "neighborhood_id": "25", "geocode_method": "latlon", "geocode_precision": "point",
                **LINEAGE}
    rows = {
        "dim_neighborhoods": [{"neighborhood_id": "25", "name": "AUSTIN", "population_2010": 98514},
                              {"neighborhood_id": "35", "name": "DOUGLAS", "population_2010": 18238}],
        "fct_incidents": [{"incident_id": "I1", **incident}, {"incident_id": "I2", **incident}],
        "fct_treatment_admissions": [{"admission_id": f"A{i}", **admission} for i in range(3)],
        "dim_programs": [{"program_id": "demo-1", "name": "Circle", "program_type": "support_group",
                          "neighborhood_id": "25", "geocode_method": "latlon", "geocode_precision": "point",
                          "started_on": date(2016, 1, 1), "is_synthetic": True, **LINEAGE}],
        "fct_program_sessions": [{"session_id": "S1", "program_id": "demo-1", "session_date": date(2016, 1, 4),
                                  "period": "session", "attendees": 1, "is_synthetic": True, **LINEAGE}],
        "fct_session_roster": [{"session_id": "S1", "participant_key": "p1", "is_synthetic": True, **LINEAGE}],
        "quarantine_treatment_admissions": [{"batch_id": "b1", "row_index": 0, "expectation": "x", "column_name": "sex",
                                             "source": "hand", "value": "9", "reason": "bad code",
                                             "quarantined_at": NOW}],
        "geocode_cache": [{"cache_key": "5547 W MADISON ST", "latitude": 41.88, "longitude": -87.76}],
        "trend_signals": [{"neighborhood_id": "25", "metric": "drug_incidents", "period_start": date(2016, 1, 1),
                           "period_end": date(2016, 1, 31), "method": "mann_kendall", "level": "increasing",
                           "grain": "month", "computed_at": NOW}],
    }
    with engine.begin() as conn:
        for table, records in rows.items():
            conn.execute(metadata.tables[table].insert(), records)


@pytest.fixture
def locked(postgres_url, names, data_dir, tmp_path):
    """A PostgreSQL warehouse with rows and models built by dbt, locked down, with an analyst and a loader login."""
    engine = Warehouse(postgres_url)
    upgrade(engine)
    insert_rows(engine)
    load_code_tables(engine, data_dir, data_dir / "chicago_crimes/iucr_codes.csv")
    dbt_build(postgres_url, tmp_path / "work")
    report = setup_roles(engine, names.roles, logins=[(names.analyst_login, "analyst", SecretStr(secrets.token_urlsafe())),
                                                      (names.loader_login, "loader", None)])
    assert report.skipped is None
    yield SimpleNamespace(engine=engine, report=report, url=postgres_url, work=tmp_path / "work", **vars(names))
    engine.close()


def connect_as(url: str, role: str) -> sa.Engine:
    return Warehouse(sa.make_url(url).set(username=role, password=None).render_as_string(hide_password=False))


def attempt(engine, *statements: str) -> str:
    """Run statements in one transaction (rolled back); return 'ok' or the server's error line."""
    with engine.connect() as conn:
        try:
            for sql in statements:
                conn.execute(sa.text(sql))
            return "ok"
        except sa.exc.DBAPIError as exc:
            return str(exc.orig).splitlines()[0]
        finally:
            conn.rollback()


def can_read(engine, name: str) -> bool:
    result = attempt(engine, f'SELECT count(*) FROM "{name}"')
    assert result == "ok" or "permission denied" in result, result
    return result == "ok"


@pytest.mark.postgres
def test_analyst_reads_marts_and_trends_but_not_person_level_rows(locked):
    analyst = connect_as(locked.url, locked.analyst_login)
    try:
        assert {n: can_read(analyst, n) for n in ANALYST_READS} == {n: True for n in ANALYST_READS}
        assert {n: can_read(analyst, n) for n in ANALYST_DENIED} == {n: False for n in ANALYST_DENIED}
        # Sweep: every table and view in the schema is readable exactly when the policy says so.
        objects = set(locked.report.readable) | set(locked.report.closed)
        assert objects >= {"mart_neighborhood_month", "int_neighborhood_month", "stg_police__incidents", "alembic_version"}
        restricted = restricted_models()
        assert {n: can_read(analyst, n) for n in objects} == {n: analyst_may_read(n, restricted) for n in objects}
        with analyst.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM trend_signals")).scalar_one() == 1
    finally:
        analyst.dispose()


@pytest.mark.postgres
def test_grants_survive_a_models_rebuild(locked):
    analyst, loader = connect_as(locked.url, locked.analyst_login), connect_as(locked.url, locked.loader_login)
    try:
        dbt_build(locked.url, locked.work)
        # A rebuilt model is a new object: the loader keeps its rights (default privileges) ...
        assert attempt(loader, 'DELETE FROM "mart_neighborhood_month" WHERE false') == "ok"
        assert attempt(loader, 'DELETE FROM "int_neighborhood_month" WHERE false') == "ok"
        # ... analysts see nothing new until the grants are re-applied: it fails closed.
        assert not can_read(analyst, "mart_neighborhood_month")
        assert not can_read(analyst, "int_neighborhood_month")
        report = apply_grants(locked.engine, locked.roles)
        assert "mart_neighborhood_month" in report.readable and "int_neighborhood_month" in report.closed
        assert can_read(analyst, "mart_neighborhood_month")
        assert can_read(analyst, "dim_dates")
        assert not can_read(analyst, "int_neighborhood_month")
        assert not can_read(analyst, "stg_treatment__admissions")
        assert not can_read(analyst, "fct_treatment_admissions")
    finally:
        analyst.dispose()
        loader.dispose()


@pytest.mark.postgres
def test_loader_writes_and_analyst_cannot(locked):
    analyst, loader = connect_as(locked.url, locked.analyst_login), connect_as(locked.url, locked.loader_login)
    try:
        assert attempt(loader, "INSERT INTO fct_session_roster VALUES ('S2', 'p2', true, 'hand', 'b', now())") == "ok"
        assert attempt(loader, "UPDATE fct_treatment_admissions SET sex = 2 WHERE admission_id = 'A1'") == "ok"
        assert attempt(loader, "CREATE TEMP TABLE stage_x AS SELECT * FROM fct_incidents") == "ok"
        assert attempt(loader, "CREATE TABLE loader_scratch (x int)") == "ok"
        assert "permission denied" in attempt(loader, "CREATE ROLE pulse_evil_twin")
        # Read-only by default; a read-write transaction still lacks the privileges.
        assert "read-only" in attempt(analyst, "INSERT INTO dim_neighborhoods VALUES ('99', 'X')")
        rw = "SET TRANSACTION READ WRITE"
        assert "permission denied" in attempt(analyst, rw, "INSERT INTO dim_neighborhoods VALUES ('99', 'X')")
        assert "permission denied" in attempt(analyst, rw, "CREATE TABLE analyst_scratch (x int)")
        assert "permission denied" in attempt(analyst, rw, "DELETE FROM trend_signals")
    finally:
        analyst.dispose()
        loader.dispose()


@pytest.mark.postgres
def test_cli_init_creates_roles_hashes_the_password_and_locks_out_strangers(postgres_url, names):
    password = "pw-" + secrets.token_hex(12)
    args = ["warehouse", "init", "--loader-role", names.roles.loader, "--analyst-role", names.roles.analyst,
            "--analyst-login", names.analyst_login, "--analyst-password-env", "TEST_ANALYST_PW"]
    result = CliRunner().invoke(_app(), args, env={"PULSE_WAREHOUSE_URL": postgres_url, "TEST_ANALYST_PW": password})
    assert result.exit_code == 0, result.output
    assert password not in result.output
    from warehouse.migrations import head_revision

    assert head_revision() in result.output and names.analyst_login in result.output  # upgraded to the head
    admin = Warehouse(postgres_url)
    with admin.begin() as conn:
        stored = conn.execute(sa.text("SELECT rolpassword FROM pg_authid WHERE rolname = :r"),
                              {"r": names.analyst_login}).scalar_one()
        groups = set(conn.execute(sa.text(
            "SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid "
            "JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = :r"), {"r": names.analyst_login}).scalars())
        conn.execute(sa.text(f'CREATE ROLE "{names.stranger}" LOGIN'))
    admin.dispose()
    assert stored.startswith("SCRAM-SHA-256$") and password not in stored
    assert groups == {names.roles.analyst}
    stranger, analyst = connect_as(postgres_url, names.stranger), connect_as(postgres_url, names.analyst_login)
    try:
        with pytest.raises(sa.exc.OperationalError, match="permission denied for database"):
            stranger.connect()
        assert can_read(analyst, "fct_incidents") and not can_read(analyst, "fct_treatment_admissions")
    finally:
        stranger.dispose()
        analyst.dispose()
    # Rerunning is idempotent; a missing password variable is a clear error, not a password-less login.
    again = CliRunner().invoke(_app(), args, env={"PULSE_WAREHOUSE_URL": postgres_url, "TEST_ANALYST_PW": password})
    assert again.exit_code == 0 and "already at revision" in again.output, again.output
    unset = CliRunner().invoke(_app(), args[:-1] + ["UNSET_PW_VARIABLE"], env={"PULSE_WAREHOUSE_URL": postgres_url})
    assert unset.exit_code == 2 and "UNSET_PW_VARIABLE: is not set" in unset.output
    assert "revision" not in unset.output  # reported before connecting


@pytest.mark.postgres
def test_cli_rejects_a_malicious_role_name_before_touching_the_database(postgres_url):
    evil = 'x" SUPERUSER; DROP TABLE fct_incidents; --'
    result = CliRunner().invoke(_app(), ["warehouse", "init", "--analyst-role", evil],
                                env={"PULSE_WAREHOUSE_URL": postgres_url})
    assert result.exit_code == 2 and "not a valid PostgreSQL role or schema name" in result.output
    admin = Warehouse(postgres_url)
    with admin.connect() as conn:  # nothing ran: not even the tables were created
        assert conn.execute(sa.text("SELECT to_regclass('fct_incidents')")).scalar_one() is None
        assert conn.execute(sa.text("SELECT count(*) FROM pg_roles WHERE rolname LIKE 'x%SUPERUSER%'")).scalar_one() == 0
    admin.dispose()


@pytest.mark.postgres
def test_apply_grants_skips_when_the_roles_do_not_exist(postgres_url):
    engine = Warehouse(postgres_url)
    upgrade(engine)
    report = apply_grants(engine, Roles(loader="pulse_loader_absent_x", analyst="pulse_analyst_absent_x"))
    assert report.skipped and "do not exist" in report.skipped and report.readable == []
    engine.close()


@pytest.mark.postgres
@pytest.mark.slow
def test_the_models_flow_reopens_marts_after_its_dbt_build_and_keeps_person_level_rows_closed(
        locked, prefect_harness, settings_factory):
    from flows.models import models_flow

    analyst = connect_as(locked.url, locked.analyst_login)
    try:
        rows = models_flow(settings=settings_factory(locked.url), node_tasks=False, loader_role=locked.roles.loader,
                           analyst_role=locked.roles.analyst)
        assert {r["status"] for r in rows} <= {"success", "pass"}
        assert {n: can_read(analyst, n) for n in ANALYST_READS} == {n: True for n in ANALYST_READS}
        assert {n: can_read(analyst, n) for n in ANALYST_DENIED} == {n: False for n in ANALYST_DENIED}
        assert all(can_read(analyst, n) for n in analyst_models())
        assert not any(can_read(analyst, n) for n in restricted_models())
    finally:
        analyst.dispose()

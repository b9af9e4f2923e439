"""Security: configured identifiers are validated and quoted, secrets stay out of every output,
and file sources cannot read outside their folders."""
from __future__ import annotations

import json
import logging
import os
import stat
from pathlib import Path

import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from flows.city_inputs import police_files
from flows.police_incidents import police_incidents_flow
from schemas.errors import ConfigError, InputError, PulseError
from tasks.sources.mapped import IncidentMapping
from tests.police_files import real_rows, write_csv
from warehouse.resource import Warehouse
from warehouse.load import _q
from warehouse.tables import metadata

INJECTIONS = ['x"; DROP TABLE fct_incidents; --', "a b", "a-b", "", "t;", '"', "fct_incidents--", "x'y",
              "name\u0000", "pulse\nrole"]
PASSWORD = "Pw-9f1c2e7b-never-print-me"
KEY = "key-5b7e0d3a9c1f46e8b2d4a6c8e0f2a4b6-never-print-me"
TREATMENT = Path(__file__).resolve().parent / "data" / "treatment"


def one_line(exc: BaseException) -> str:
    msg = str(exc)
    assert "\n" not in msg and msg
    return msg


# ---------------------------------------------------------------- identifiers

@pytest.mark.parametrize("name", INJECTIONS, ids=repr)
def test_load_refuses_unsafe_identifiers(name):
    with pytest.raises(ValueError, match="unsafe SQL identifier"):
        _q(name)


def test_load_quotes_every_warehouse_identifier():
    assert _q("fct_incidents") == '"fct_incidents"'
    for table in metadata.tables.values():  # every name the loader may build SQL from passes the check
        _q(table.name)
        for column in table.columns:
            _q(column.name)


@pytest.mark.parametrize("name", INJECTIONS + ["pg_monitor", "Pulse", "x" * 64], ids=repr)
def test_role_and_schema_names_from_config_are_rejected(name):
    from warehouse.roles import Roles, quote_name, setup_roles

    with pytest.raises(ConfigError) as err:
        quote_name(name, "warehouse schema")
    one_line(err.value)
    with pytest.raises(ConfigError):
        Roles(loader=name)
    engine = Warehouse("duckdb:///:memory:")  # validation happens before any backend check
    with pytest.raises(ConfigError):
        setup_roles(engine, schema=name)
    with pytest.raises(ConfigError):
        setup_roles(engine, logins=[(name, "analyst", SecretStr("x"))])
    engine.close()


@pytest.mark.postgres
def test_injected_login_name_reaches_no_sql(postgres_url):
    from warehouse.roles import setup_roles

    engine = Warehouse(postgres_url)
    evil = 'eve" SUPERUSER; CREATE ROLE "mallory'
    try:
        with pytest.raises(ConfigError):
            setup_roles(engine, logins=[(evil, "analyst", SecretStr(PASSWORD))])
        with engine.connect() as conn:
            roles = conn.execute(sa.text("SELECT rolname FROM pg_roles WHERE rolname LIKE '%mallory%' "
                                         "OR rolname LIKE 'eve%'")).scalars().all()
    finally:
        engine.close()
    assert roles == []


@pytest.mark.parametrize("value", ["10; DROP TABLE fct_incidents", "1 OR 1=1", -3, 2.5, True])
def test_model_variables_accept_only_integers(value):
    from warehouse.dbt_project import dbt_vars

    with pytest.raises(ConfigError):
        dbt_vars(value)


def test_mapped_config_column_names_never_reach_sql(prefect_harness, settings_factory, duckdb_url):
    """A source column name that tries SQL injection is only ever a DataFrame key: a clear error."""
    from flows.settings import REPO_ROOT

    settings = settings_factory(duckdb_url, city_config=REPO_ROOT / "config" / "chicago_generic.toml")
    columns = settings.city.source("police_generic").columns.model_dump(exclude_unset=True)
    settings.override_source("police_generic", columns={**columns, "occurred_at": 'Date"; DROP TABLE load_audit; --'})
    with pytest.raises(PulseError) as err:
        police_incidents_flow(settings=settings, source="police_generic")
    assert "DROP TABLE load_audit" in one_line(err.value) and "is missing" in str(err.value)
    engine = Warehouse(duckdb_url)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT count(*) FROM load_audit")).scalar_one()
    finally:
        engine.close()


def test_mapped_config_rejects_unknown_canonical_columns():
    cfg = {"id_column": "ID", "columns": {"occurred_at": "Date", 'block"; DROP TABLE x; --': "Block"}}
    with pytest.raises(ConfigError) as err:
        IncidentMapping.from_config(cfg, "America/Chicago")
    assert "DROP TABLE" in one_line(err.value)


# ---------------------------------------------------------------- path traversal

@pytest.mark.parametrize("entry", ["../../etc/passwd", "chicago_crimes/../../../etc/hostname", "/etc/passwd"])
def test_configured_police_files_stay_in_the_data_dir(settings_factory, duckdb_url, entry):
    settings = settings_factory(duckdb_url)
    settings.override_source("police_chicago", files=[entry])
    with pytest.raises(ConfigError) as err:
        police_files(settings)
    msg = one_line(err.value)
    assert repr(entry) in msg and "outside the data directory" in msg


def test_configured_files_inside_the_data_dir_are_accepted(settings_factory, duckdb_url):
    settings = settings_factory(duckdb_url)
    assert [p.name for p in police_files(settings)][0] == "chicago_crimes_2015.csv.gz"


def test_police_flow_refuses_a_traversing_config(prefect_harness, settings_factory, duckdb_url):
    settings = settings_factory(duckdb_url)
    settings.override_source("police_chicago", files=["../../../../etc/passwd"])
    with pytest.raises(ConfigError) as err:
        police_incidents_flow(settings=settings)
    assert "outside the data directory" in one_line(err.value)
    assert not (settings.raw_dir / "police_chicago").exists()  # nothing was read or landed


def _tamper(manifest: Path, target: str) -> None:
    os.chmod(manifest, stat.S_IRUSR | stat.S_IWUSR)
    data = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**data, "parquet_path": target}))


@pytest.mark.parametrize("target", ["/etc/passwd", "{raw}/../../outside.parquet"], ids=["absolute", "dotdot"])
def test_landed_manifest_pointing_outside_the_landing_zone_is_refused(prefect_harness, settings_factory, duckdb_url,
                                                                      data_dir, tmp_path, target):
    path = write_csv(real_rows(data_dir, 10), tmp_path / "ten.csv")
    settings = settings_factory(duckdb_url)
    police_incidents_flow(settings=settings, files=[str(path)])
    manifest = next(settings.raw_dir.glob("police_chicago/*/*.manifest.json"))
    outside = target.format(raw=settings.raw_dir)
    if outside.endswith(".parquet"):
        Path(outside).resolve().write_bytes(b"not yours")
    _tamper(manifest, outside)
    with pytest.raises(InputError) as err:
        police_incidents_flow(settings=settings, files=[str(path)])
    msg = one_line(err.value)
    assert manifest.name in msg and "outside the landing zone" in msg


@pytest.mark.parametrize("source", ["treatment_teds", "programs_cpl"])
def test_other_feeds_refuse_traversing_config(prefect_harness, settings_factory, duckdb_url, source):
    from flows.programs import library_programs_flow
    from flows.treatment import teds_flow

    settings = settings_factory(duckdb_url)
    settings.override_source(source, files=["../../../../etc/hostname"])
    with pytest.raises(ConfigError) as err:
        (teds_flow if source == "treatment_teds" else library_programs_flow)(settings=settings)
    assert "outside" in one_line(err.value)


# ---------------------------------------------------------------- secrets

@pytest.fixture
def captured():
    """Every log record emitted while the test runs (Prefect run loggers included)."""
    seen: dict[int, logging.LogRecord] = {}

    class Keep(logging.Handler):
        def emit(self, record):
            seen[id(record)] = record

    handler = Keep(level=logging.DEBUG)
    loggers = [logging.getLogger(n) for n in ("", "prefect", "prefect.flow_runs", "prefect.task_runs",
                                              "sqlalchemy", "httpx")]
    for lg in loggers:
        lg.addHandler(handler)
    yield seen
    for lg in loggers:
        lg.removeHandler(handler)


def log_text(records) -> str:
    out = []
    for r in records.values():
        exc = ""
        if r.exc_info:
            import traceback

            exc = "".join(traceback.format_exception(*r.exc_info))
        out.append(f"{r.name} {r.getMessage()} {r.exc_text or ''} {exc}")
    return "\n".join(out)


def artifacts_text() -> str:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return json.dumps([[a.key, a.description, a.data] for a in client.read_artifacts()], default=str)


def run_parameters_text() -> str:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return json.dumps([r.parameters for r in client.read_flow_runs(limit=200)], default=str)


def warehouse_text(url: str) -> str:
    engine = Warehouse(url)
    parts = []
    try:
        with engine.connect() as conn:
            for table in metadata.sorted_tables:
                try:
                    rows = conn.execute(sa.select(table)).all()
                except sa.exc.DBAPIError:
                    conn.rollback()
                    continue
                parts += [str(v) for row in rows for v in row]
    finally:
        engine.close()
    return "\n".join(parts)


def with_password(url: str) -> str:
    return sa.make_url(url).set(password=PASSWORD).render_as_string(hide_password=False)


@pytest.mark.postgres
def test_secrets_stay_out_of_logs_artifacts_errors_and_tables(prefect_harness, settings_factory, postgres_url,
                                                             data_dir, tmp_path, captured, capfd):
    from flows.programs import demo_programs_flow
    from flows.treatment import treatment_flow

    url = with_password(postgres_url)  # trust auth: the server ignores it, every client path carries it
    settings = settings_factory(url, pseudonym_key=KEY)
    errors = []
    police_incidents_flow(settings=settings, files=[str(write_csv(real_rows(data_dir, 30), tmp_path / "p.csv"))])
    treatment_flow(settings=settings, file=str(TREATMENT / "provider_export.csv"))
    demo = tmp_path / "demo"
    demo.mkdir()
    for kind in ("programs", "sessions", "roster"):
        (demo / f"{kind}.csv").write_bytes((TREATMENT.parent / "programs" / f"demo_{kind}.csv").read_bytes())
    demo_programs_flow(settings=settings, folder=str(demo))
    bad = tmp_path / "bad.csv"
    bad.write_text("ID,Date\n1,2\n")
    for run in (lambda: police_incidents_flow(settings=settings, files=[str(bad)]),
                lambda: police_incidents_flow(settings=settings_factory(
                    sa.make_url(url).set(port=1).render_as_string(hide_password=False)), files=[str(bad)]),
                lambda: police_incidents_flow(settings=settings_factory("postgresql+psycopg://u:" + PASSWORD + "@@/x"),
                                              files=[str(bad)])):
        with pytest.raises(Exception) as err:
            run()
        errors.append(f"{type(err.value).__name__}: {err.value} {err.value.__cause__ or ''}")
    texts = {
        "logs": log_text(captured), "artifacts": artifacts_text(), "errors": "\n".join(errors),
        "console": "\n".join(capfd.readouterr()), "warehouse": warehouse_text(url),
    }
    assert "police_chicago" in texts["artifacts"] and len(errors) == 3
    for where, text in texts.items():
        assert PASSWORD not in text, f"warehouse password in {where}"
        assert KEY not in text, f"pseudonymization key in {where}"


def test_flow_run_parameters_hide_the_warehouse_password(prefect_harness, settings_factory, tmp_path, data_dir):
    """Flows take ``settings`` as a parameter: Prefect stores it, so secrets must serialize masked."""
    settings = settings_factory("postgresql+psycopg://pulse:" + PASSWORD + "@127.0.0.1:1/nowhere", pseudonym_key=KEY)
    with pytest.raises(Exception):
        police_incidents_flow(settings=settings, files=[str(write_csv(real_rows(data_dir, 5), tmp_path / "f.csv"))])
    params = run_parameters_text()
    assert KEY not in params
    assert PASSWORD not in params

"""Treatment feeds end to end: admissions (DuckDB and PostgreSQL), TEDS, facilities, the key."""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import stat
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from flows.feeds import run_feed_group
from flows.treatment import teds_flow, treatment_flow
from schemas.errors import ConfigError, InputError
from tasks.ingest.landing import land_batches
from tasks.synthetic.treatment import write_demo_admissions
from tasks.sources.treatment_provider import CODE_COLUMNS
from tasks.ingest.treatment_feeds import provider_batches
from warehouse.resource import Warehouse
from warehouse.tables import metadata
from tests.warehouse_sql import q

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "treatment"
KEY = "test-pseudonym-key-5f0e3c1d9a7b4e2f8c6d0a1b3e5f7a9c"
FIELD_COLUMN = {field: column for column, field in CODE_COLUMNS.items()}




def warehouse_strings(url: str) -> list[tuple[str, str, str]]:
    """Every text value in every warehouse table: (table, column, value)."""
    engine = Warehouse(url)
    out = []
    try:
        with engine.connect() as conn:
            for table in metadata.sorted_tables:
                result = conn.execute(sa.select(table))
                names = list(result.keys())
                for row in result:
                    out += [(table.name, n, v) for n, v in zip(names, row) if isinstance(v, str)]
    finally:
        engine.close()
    return out


@pytest.fixture
def records():
    """Every log record emitted while the test runs (Prefect run loggers included)."""
    seen: dict[int, logging.LogRecord] = {}

    class Keep(logging.Handler):
        def emit(self, record):
            seen[id(record)] = record

    handler = Keep(level=logging.DEBUG)
    loggers = [logging.getLogger(n) for n in ("", "prefect", "prefect.flow_runs", "prefect.task_runs")]
    for lg in loggers:
        lg.addHandler(handler)
    yield seen
    for lg in loggers:
        lg.removeHandler(handler)


def log_text(records) -> str:
    return "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in records.values())


def prefect_api_text() -> str:
    """Artifacts and flow-run parameters stored by the (test) Prefect API, as text."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts()
        runs = client.read_flow_runs(limit=200)
    return json.dumps([a.data for a in artifacts] + [r.parameters for r in runs], default=str)


@pytest.fixture(scope="module")
def demo_export(data_dir, tmp_path_factory):
    path = write_demo_admissions(tmp_path_factory.mktemp("demo") / "admissions.csv", data_dir, n=300, seed=11,
                                 defect_rate=0.05)
    return path, pd.read_csv(path, dtype="str", keep_default_na=False), pd.read_csv(
        path.with_suffix(".defects.csv"), dtype={"row": "int64", "value": "str", "field": "str"},
        keep_default_na=False)


def expected_quarantine(defect) -> set[tuple[str, str]]:
    """The (expectation, column) pairs that may catch one generated defect."""
    if defect.defect == "blank_code":
        return {("expect_column_values_to_not_be_null", FIELD_COLUMN[defect.field])}
    if defect.defect == "invalid_code":
        col = FIELD_COLUMN[defect.field]
        return {("expect_column_values_to_not_be_null", col), ("expect_column_values_to_be_in_set", col)}
    if defect.defect == "impossible_date":
        return {("expect_column_values_to_not_be_null", "admitted_on")}
    if defect.defect == "future_date":
        return {("expect_column_values_to_be_between", "admitted_on")}
    if defect.defect == "unparseable_address":
        return {("geocode", "address")}
    return {("expect_column_values_to_be_unique", "admission_id")}


def test_admissions_load_quarantine_rerun_and_privacy(prefect_harness, settings_factory, warehouse_url, demo_export,
                                                      records, capfd):
    path, export, defects = demo_export
    settings = settings_factory(warehouse_url, pseudonym_key=KEY)
    first = treatment_flow(settings=settings, file=str(path))[0]
    assert first["status"] == "loaded" and first["table"] == "fct_treatment_admissions"
    assert first["rows_read"] == 300 == first["rows_loaded"] + first["rows_quarantined"]
    assert q(warehouse_url, "SELECT count(*) FROM fct_treatment_admissions")[0][0] == first["rows_loaded"]
    audit = q(warehouse_url, "SELECT status, rows_read, rows_loaded, rows_quarantined, entity FROM load_audit")
    assert audit == [("loaded", 300, first["rows_loaded"], first["rows_quarantined"], "treatment_admissions")]

    # Every generated defect is in quarantine, caught by the expectation meant for it.
    got = q(warehouse_url, "SELECT source_row, expectation, column_name, reason, raw_record "
                           "FROM quarantine_treatment_admissions")
    caught: dict[int, set[tuple[str, str]]] = {}
    for row, expectation, column, _, _ in got:
        caught.setdefault(row - 1, set()).add((expectation, column))
    assert len(caught) == first["rows_quarantined"]
    for d in defects.itertuples():
        assert caught.get(d.row, set()) & expected_quarantine(d), (d, caught.get(d.row))
    originals = set(defects["duplicate_of"].replace("", None).dropna().astype(int))
    for row in originals:
        assert ("expect_column_values_to_be_unique", "admission_id") in caught[row]
    others = set(caught) - set(defects["row"]) - originals
    assert all(caught[r] == {("geocode", "address")} for r in others)  # only ungeocodable rows beyond the defects
    reasons = {r for _, e, _, r, _ in got if e == "geocode"}
    assert reasons and all(r.startswith("no usable residence location") for r in reasons)
    assert all("CLIENT_ID" not in raw and "ADDRESS" not in raw and "ADMIT_DATE" in raw for *_, raw in got)

    loaded = pd.DataFrame(q(warehouse_url, "SELECT client_key, is_synthetic, neighborhood_id, geocode_precision, "
                                           "source FROM fct_treatment_admissions"),
                          columns=["client_key", "is_synthetic", "neighborhood_id", "precision", "source"])
    assert loaded["client_key"].str.fullmatch(r"[0-9a-f]{64}").all()
    assert loaded["is_synthetic"].all() and loaded["source"].eq("treatment_provider").all()
    assert loaded["neighborhood_id"].notna().mean() > 0.95
    assert set(loaded["precision"]) <= {"street", "block", "intersection", "zip", "none"}
    first_client = export.loc[0, "CLIENT_ID"]
    assert hmac.new(KEY.encode(), first_client.encode(), hashlib.sha256).hexdigest() in set(loaded["client_key"])

    # Same file again: skipped by checksum.
    second = treatment_flow(settings=settings, file=str(path))[0]
    assert second["status"] == "skipped"
    assert q(warehouse_url, "SELECT count(*) FROM load_audit")[0][0] == 1

    # Nothing readable of the key, the client ids or the street addresses anywhere.
    ids = set(export["CLIENT_ID"].str.strip())
    addresses = sorted({a.strip().upper() for a in export["ADDRESS"] if len(a.strip()) >= 8}, key=len, reverse=True)
    assert len(ids) > 100 and len(addresses) > 120
    leaks = re.compile("|".join([re.escape(KEY.upper()), *map(re.escape, ids), *map(re.escape, addresses)]))
    values = warehouse_strings(warehouse_url)
    assert {t for t, _, _ in values} >= {"fct_treatment_admissions", "quarantine_treatment_admissions",
                                         "geocode_cache", "load_audit"}
    assert [(t, c, v[:80]) for t, c, v in values if leaks.search(v.upper())] == []
    outputs = "\n".join([log_text(records), prefect_api_text(), *capfd.readouterr()])
    assert "treatment_admissions" in outputs or "admissions.csv" in outputs  # the capture worked
    assert leaks.search(outputs.upper()) is None


def test_demo_path_generates_the_export_and_a_private_key(prefect_harness, settings_factory, duckdb_url, records):
    settings = settings_factory(duckdb_url)  # no PULSE_PSEUDONYM_KEY
    settings.override_source("treatment_demo", rows=150)
    out = {s["table"]: s for s in run_feed_group("treatment", settings=settings)}
    assert set(out) == {"fct_treatment_admissions", "fct_teds_state_admissions", "dim_treatment_facilities",
                        "fct_teds_state_discharges"}
    for s in out.values():
        assert s["status"] == "loaded" and s["rows_read"] == s["rows_loaded"] + s["rows_quarantined"]
    assert out["fct_treatment_admissions"]["rows_read"] == 150
    assert (out["fct_teds_state_admissions"]["rows_loaded"], out["fct_teds_state_admissions"]["rows_quarantined"]) \
        == (416, 9)  # the extract's 9 rows empty in every TEDS column
    assert out["dim_treatment_facilities"]["rows_read"] == 238
    located = q(duckdb_url, "SELECT count(*), count(neighborhood_id), sum(CASE WHEN is_otp THEN 1 ELSE 0 END) "
                            "FROM dim_treatment_facilities")[0]
    assert located[1] >= 230 and located[2] >= 60
    assert q(duckdb_url, "SELECT count(*) FROM fct_teds_state_admissions WHERE admission_year = 2017")[0][0] == 416

    export = settings.work_dir / "demo" / "treatment_admissions.csv"
    assert json.loads(export.with_suffix(".meta.json").read_text())["synthetic"] is True
    key_file = settings.work_dir / ".pseudonym_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_text().strip()
    text = log_text(records)
    assert "generated a random pseudonymization key" in text and key not in text

    again = run_feed_group("treatment", settings=settings)
    assert [s["status"] for s in again] == ["skipped"] * 4  # admissions, TEDS-A, facilities, TEDS-D
    assert key_file.read_text().strip() == key
    assert "using the demo key" in log_text(records)


def test_real_export_without_a_key_fails_in_one_line(prefect_harness, settings_factory, duckdb_url):
    settings = settings_factory(duckdb_url)
    with pytest.raises(ConfigError) as e:
        treatment_flow(settings=settings, file=str(FIXTURES / "provider_export.csv"))
    assert "\n" not in str(e.value) and str(e.value).startswith("PULSE_PSEUDONYM_KEY: is not set")
    assert not (settings.work_dir / ".pseudonym_key").exists()


def test_lowercase_header_keeps_ids_and_addresses_out_of_quarantine(prefect_harness, settings_factory, duckdb_url,
                                                                     tmp_path):
    lines = (FIXTURES / "provider_export.csv").read_text().splitlines(keepends=True)
    export = tmp_path / "lower.csv"
    export.write_text(lines[0].lower() + "".join(lines[1:]))
    summary = treatment_flow(settings=settings_factory(duckdb_url, pseudonym_key=KEY), file=str(export))[0]
    assert (summary["rows_read"], summary["rows_loaded"], summary["rows_quarantined"]) == (5, 2, 3)
    raws = [json.loads(r[0]) for r in q(duckdb_url, "SELECT raw_record FROM quarantine_treatment_admissions")]
    assert raws and all("client_id" not in r and "address" not in r and "admission_id" in r for r in raws)
    keys = q(duckdb_url, "SELECT DISTINCT client_key FROM fct_treatment_admissions")
    assert keys == [(hmac.new(KEY.encode(), b"C0000001", hashlib.sha256).hexdigest(),)]  # A1 and A2: one client


@pytest.mark.parametrize("fixture, expected", [
    ("provider_empty.csv", "file is empty"),
    ("provider_header_only.csv", "no data rows"),
    ("provider_missing_column.csv", "column 'PSOURCE' is missing"),
    ("provider_renamed_column.csv", "found 'CLIENT_NO' instead"),
    ("provider_cp1252.csv", "row 3 has bytes that are not UTF-8"),
], ids=["empty", "header-only", "missing-column", "renamed-column", "non-utf8"])
def test_bad_exports_fail_landing_with_one_line(tmp_path, fixture, expected):
    path = FIXTURES / fixture
    with pytest.raises(InputError) as e:
        land_batches(tmp_path, "treatment_provider", str(path), "0" * 64, provider_batches(path))
    assert "\n" not in str(e.value) and fixture in str(e.value) and expected in str(e.value)
    assert not list(tmp_path.rglob("*.parquet"))


def test_bad_export_fails_the_flow_and_loads_nothing(prefect_harness, settings_factory, duckdb_url):
    settings = settings_factory(duckdb_url, pseudonym_key=KEY)
    with pytest.raises(InputError) as e:
        treatment_flow(settings=settings, file=str(FIXTURES / "provider_missing_column.csv"))
    assert "column 'PSOURCE' is missing" in str(e.value)
    assert q(duckdb_url, "SELECT count(*) FROM fct_treatment_admissions")[0][0] == 0


def test_teds_unknown_codes_go_to_quarantine_with_reasons(prefect_harness, settings_factory, duckdb_url):
    summary = teds_flow(settings=settings_factory(duckdb_url), files=[str(FIXTURES / "teds_unknown_codes.csv")])[0]
    assert (summary["rows_read"], summary["rows_loaded"], summary["rows_quarantined"]) == (8, 1, 7)
    got = q(duckdb_url, "SELECT source_row, reason FROM quarantine_teds_state_admissions")
    reasons: dict[int, set[str]] = {}
    for row, reason in got:
        reasons.setdefault(row, set()).add(reason)
    assert "SUB1 is not a code of the TEDS-A codebook" in reasons[2]
    assert "STFIPS is not a code of the TEDS-A codebook" in reasons[3]
    assert "AGE is not a code of the TEDS-A codebook" in reasons[4]
    assert "ROUTE1 'X' is not a whole number" in reasons[5]
    assert "CASEID is not 11 digits" in reasons[6]
    assert {"PSOURCE is not a code of the TEDS-A codebook", "ADMYR outside 1992 (first TEDS-A year) .. 2100"} \
        <= reasons[7]
    assert 8 in reasons  # the empty line
    assert q(duckdb_url, "SELECT caseid FROM fct_teds_state_admissions") == [("20170000101",)]

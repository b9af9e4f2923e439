"""The police flow in API mode against a local SODA stub with scripted faults.

Either the run retries through a fault and loads everything, or it fails with one clear line;
in both cases the watermark never passes data that was not loaded. (500, 429, a truncated body
and an empty page mid-stream are covered in tests/flows/test_police_flow.py.)
"""
from __future__ import annotations

import logging

import pytest

from flows.police_incidents import police_incidents_flow
from schemas.errors import PulseError
from tests.police_files import real_rows
from tests.socrata_stub import SocrataStub, csv_rows_to_socrata
from tests.warehouse_sql import q

PAGE = 50
# request 0 is the count; requests 1-3 are the pages (50, 50, 20 records).
FAST = {"page_size": PAGE, "timeout_seconds": 1, "max_attempts": 3, "retry_backoff_seconds": 0.05}




@pytest.fixture(scope="module")
def records(data_dir):
    return csv_rows_to_socrata(real_rows(data_dir, 120, "22"))


@pytest.fixture
def warnings_seen():
    """Messages the run logged at WARNING or above."""
    seen: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record):
            seen.append(record.getMessage())

    handler = Keep(level=logging.WARNING)
    logger = logging.getLogger("prefect.flow_runs")
    logger.addHandler(handler)
    yield seen
    logger.removeHandler(handler)


def configure(settings, stub, **overrides):
    settings.override_source("police_chicago", api_base_url=stub.base_url, **FAST, **overrides)
    return settings


def loaded_ids(url: str) -> list[str]:
    return [r[0] for r in q(url, "SELECT incident_id FROM fct_incidents")]


def watermark(url: str):
    rows = q(url, "SELECT watermark FROM source_watermarks")
    return rows[0][0] if rows else None


def assert_all_loaded(url: str, records: list[dict], summaries: list[dict]) -> None:
    ids = loaded_ids(url)
    assert len(ids) == len(set(ids)) == sum(s["rows_loaded"] for s in summaries)
    assert sum(s["rows_loaded"] + s["rows_quarantined"] for s in summaries) == len(records)
    assert watermark(url) == max(r["updated_on"] for r in records)


@pytest.mark.parametrize("fault", ["slow", "reset", "reset_mid", "garbage"],
                         ids=["timeout", "connection-reset", "reset-mid-page", "malformed-json"])
def test_transient_fault_mid_stream_is_retried(prefect_harness, settings_factory, duckdb_url, records, fault,
                                               warnings_seen):
    with SocrataStub(records, faults={2: fault}, slow_seconds=3) as stub:
        out = police_incidents_flow(settings=configure(settings_factory(duckdb_url), stub), mode="api")
        assert len(stub.requests) == 5  # count, page 1, page 2 twice, page 3
    assert_all_loaded(duckdb_url, records, out)
    retry = [m for m in warnings_seen if "retry 1/2" in m]
    assert len(retry) == 1 and f"offset={PAGE}" in retry[0]


def test_429_waits_for_retry_after(prefect_harness, settings_factory, duckdb_url, records, warnings_seen):
    with SocrataStub(records, faults={3: "429"}) as stub:
        out = police_incidents_flow(settings=configure(settings_factory(duckdb_url), stub), mode="api")
    assert_all_loaded(duckdb_url, records, out)
    # The stub's Retry-After (1 s) wins over the 0.05 s backoff.
    assert any("HTTP 429; retry 1/2 in 1.0s" in m for m in warnings_seen), warnings_seen


@pytest.mark.parametrize("fault,reason", [("500", "HTTP 500"), ("slow", "ReadTimeout"),
                                          ("garbage", "malformed or truncated body"), ("reset", "RemoteProtocolError")],
                         ids=["server-error", "timeout", "malformed-json", "connection-reset"])
def test_persistent_fault_fails_clearly_and_keeps_the_watermark(prefect_harness, settings_factory, duckdb_url,
                                                                 records, fault, reason):
    settings = settings_factory(duckdb_url)
    with SocrataStub(records, faults={2: fault, 3: fault, 4: fault}, slow_seconds=1.5) as stub:
        with pytest.raises(PulseError) as err:
            police_incidents_flow(settings=configure(settings, stub), mode="api")
    msg = str(err.value)
    assert "\n" not in msg and f"offset {PAGE}" in msg and "failed after 3 attempts" in msg and reason in msg, msg
    assert "watermark" in msg
    # Page 1 landed raw but nothing loaded and no watermark: the next run starts from the same place.
    assert loaded_ids(duckdb_url) == [] and watermark(duckdb_url) is None
    with SocrataStub(records) as stub:
        out = police_incidents_flow(settings=configure(settings, stub), mode="api")
    assert_all_loaded(duckdb_url, records, out)


def test_fault_in_an_incremental_run_keeps_the_old_watermark(prefect_harness, settings_factory, duckdb_url, records):
    settings = settings_factory(duckdb_url)
    first, later = records[:80], records
    with SocrataStub(first) as stub:
        police_incidents_flow(settings=configure(settings, stub), mode="api")
    old = watermark(duckdb_url)
    assert old == max(r["updated_on"] for r in first)
    # 40 new records arrive plus 5 corrections of loaded ones, all updated after the watermark.
    changed = [dict(r, updated_on="2019-06-01T00:00:00.000", arrest=not r.get("arrest", False)) for r in first[:5]]
    newer = [dict(r, updated_on="2019-06-0%dT00:00:00.000" % (2 + i % 5)) for i, r in enumerate(later[80:])]
    with SocrataStub(first[5:] + changed + newer, faults={1: "500", 2: "500", 3: "500"}) as stub:
        with pytest.raises(PulseError):
            police_incidents_flow(settings=configure(settings, stub), mode="api")
        assert stub.requests[0]["$where"] == f"updated_on > '{old}'"
    assert watermark(duckdb_url) == old and len(loaded_ids(duckdb_url)) <= 80
    with SocrataStub(first[5:] + changed + newer) as stub:
        out = police_incidents_flow(settings=configure(settings, stub), mode="api")
    assert sum(s["rows_read"] for s in out) == 45
    ids = loaded_ids(duckdb_url)
    assert len(ids) == len(set(ids))
    assert watermark(duckdb_url) == "2019-06-06T00:00:00.000"
    flipped = q(duckdb_url, f"SELECT is_arrest FROM fct_incidents WHERE incident_id = '{changed[0]['id']}'")
    assert flipped[0][0] == changed[0]["arrest"]


def test_a_page_that_fails_validation_holds_the_watermark(prefect_harness, settings_factory, duckdb_url, records):
    broken = sorted((dict(r) for r in records), key=lambda r: r[":id"])  # the order the stub pages in
    broken[60]["id"] = broken[55]["id"]  # duplicate id inside page 2: that batch fails, pages 1 and 3 load
    settings = settings_factory(duckdb_url)
    with SocrataStub(broken) as stub:
        with pytest.raises(PulseError) as err:
            police_incidents_flow(settings=configure(settings, stub), mode="api")
    assert "\n" not in str(err.value) and "repeats" in str(err.value)
    assert 0 < len(loaded_ids(duckdb_url)) <= 70 and watermark(duckdb_url) is None
    with SocrataStub(records) as stub:  # the source fixes the record
        out = police_incidents_flow(settings=configure(settings, stub), mode="api")
    assert [s["status"] for s in out] == ["skipped", "loaded", "skipped"]
    ids = loaded_ids(duckdb_url)
    assert len(ids) == len(set(ids)) and watermark(duckdb_url) == max(r["updated_on"] for r in records)


def test_unauthorized_is_not_retried_and_names_the_token(prefect_harness, settings_factory, duckdb_url, records):
    with SocrataStub(records, faults={0: "401"}) as stub:
        with pytest.raises(PulseError) as err:
            police_incidents_flow(settings=configure(settings_factory(duckdb_url), stub), mode="api")
        assert len(stub.requests) == 1
    msg = str(err.value)
    assert "\n" not in msg and "HTTP 401" in msg and "PULSE_SOCRATA_APP_TOKEN" in msg
    assert watermark(duckdb_url) is None


def test_a_record_on_two_pages_is_flagged_and_holds_the_watermark(prefect_harness, settings_factory, duckdb_url,
                                                                  records, warnings_seen):
    # Between page 1 and page 2 a record is inserted at the front: page 2 starts with page 1's last record.
    settings = settings_factory(duckdb_url)
    with SocrataStub(records, faults={2: "shift"}) as stub:
        out = police_incidents_flow(settings=configure(settings, stub), mode="api")
    repeated = sorted(records, key=lambda r: r[":id"])[PAGE - 1]
    flagged = [m for m in warnings_seen if "two pages" in m]
    assert flagged and repeated[":id"] in flagged[0] and "watermark stays" in flagged[0], warnings_seen
    assert sum(s["rows_read"] for s in out) == len(records) + 1  # 121 records arrived, one of them twice
    ids = loaded_ids(duckdb_url)
    assert sorted(ids) == sorted({r["id"] for r in records})  # nothing lost, nothing doubled
    assert watermark(duckdb_url) is None  # not advanced: the inserted record may have slid past unseen
    with SocrataStub(records + [{**records[0], ":id": "row-0000-inserted", "id": "99999999",
                                 "case_number": "JZ000000"}]) as stub:  # the next run reads the span again
        police_incidents_flow(settings=configure(settings, stub), mode="api")
    assert "99999999" in loaded_ids(duckdb_url)
    assert watermark(duckdb_url) == max(r["updated_on"] for r in records)

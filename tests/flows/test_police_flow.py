"""The police flow end to end on small real-row files, on DuckDB and PostgreSQL."""
from __future__ import annotations

import pandas as pd
import pytest

from flows.police_incidents import police_incidents_flow
from schemas.errors import PulseError
from tests.police_files import real_rows, write_csv
from tests.socrata_stub import SocrataStub, csv_rows_to_socrata
from tests.warehouse_sql import q




def run(settings, files=None, **kw):
    return police_incidents_flow(settings=settings, files=[str(f) for f in files] if files else None, **kw)


@pytest.fixture
def sample(data_dir, tmp_path):
    rows = real_rows(data_dir, 200, "22")
    return rows, write_csv(rows, tmp_path / "sample.csv")


def test_load_rerun_and_update(prefect_harness, settings_factory, warehouse_url, sample, tmp_path):
    rows, path = sample
    settings = settings_factory(warehouse_url)
    first = run(settings, [path])
    assert first[0]["status"] == "loaded"
    assert first[0]["rows_read"] == 200 == first[0]["rows_loaded"] + first[0]["rows_quarantined"]
    assert q(warehouse_url, "SELECT count(*) FROM fct_incidents")[0][0] == first[0]["rows_loaded"]
    names = q(warehouse_url, "SELECT count(*) FROM fct_incidents i JOIN dim_neighborhoods n USING (neighborhood_id)")
    assert names[0][0] >= 195

    # Same file again: skipped by checksum, nothing changes.
    second = run(settings, [path])
    assert second[0]["status"] == "skipped"
    assert q(warehouse_url, "SELECT count(*) FROM fct_incidents")[0][0] == first[0]["rows_loaded"]

    # Re-extract where one record has a newer Updated On: exactly that record is replaced.
    changed = rows.copy()
    target = changed.loc[5, "ID"]
    changed.loc[5, "Updated On"] = "01/01/2019 10:00:00 AM"
    changed.loc[5, "Arrest"] = "true" if changed.loc[5, "Arrest"] == "false" else "false"
    third = run(settings, [write_csv(changed, tmp_path / "reextract.csv")])
    assert third[0]["rows_updated"] == 1
    assert third[0]["rows_inserted"] == 0
    got = q(warehouse_url, f"SELECT is_arrest, updated_at FROM fct_incidents WHERE incident_id = '{target}'")
    assert got[0][0] == (changed.loc[5, "Arrest"] == "true")
    assert pd.Timestamp(got[0][1]) == pd.Timestamp("2019-01-01 10:00:00")
    audit = q(warehouse_url, "SELECT status, rows_read, rows_loaded, rows_quarantined FROM load_audit ORDER BY finished_at")
    assert [a[0] for a in audit] == ["loaded", "loaded"]
    assert all(a[1] == a[2] + a[3] for a in audit)


def test_bad_rows_go_to_quarantine_with_reasons(prefect_harness, settings_factory, duckdb_url, data_dir, tmp_path):
    rows = real_rows(data_dir, 30, "22")
    rows.loc[0, "Latitude"] = "abc"
    rows.loc[1, ["Latitude", "Longitude"]] = ["0", "0"]
    rows.loc[2, ["Latitude", "Longitude"]] = [rows.loc[2, "Longitude"], rows.loc[2, "Latitude"]]
    rows.loc[3, "Date"] = "01/03/2099 11:57:00 PM"
    rows.loc[4, "IUCR"] = "9999"
    rows.loc[5, "Date"] = "not a date"
    settings = settings_factory(duckdb_url)
    summary = run(settings, [write_csv(rows, tmp_path / "bad_rows.csv")])[0]
    assert summary["rows_quarantined"] == 6 and summary["rows_loaded"] == 24
    got = q(duckdb_url, "SELECT source_row, column_name, value, reason FROM quarantine_incidents ORDER BY source_row")
    by_row = {}
    for row, col, value, reason in got:
        by_row.setdefault(row, []).append((col, value, reason))
    assert ("raw_latitude", "abc", "latitude is not a number") in by_row[1]
    assert any(c == "latitude" and v == "0" for c, v, _ in by_row[2])
    assert any("bounding box" in r for _, _, r in by_row[3])
    assert any(c == "occurred_at" and "2099" in v and "future" in r for c, v, r in by_row[4])
    assert by_row[5] == [("iucr", "9999", "offense code (IUCR) is not in the code table")]
    assert any("cannot be parsed" in r for _, _, r in by_row[6])
    raw = q(duckdb_url, "SELECT raw_record FROM quarantine_incidents WHERE source_row = 1")[0][0]
    assert '"Latitude": "abc"' in raw


def test_duplicate_ids_fail_the_batch_and_load_nothing(prefect_harness, settings_factory, warehouse_url, data_dir,
                                                       tmp_path):
    rows = real_rows(data_dir, 20, "22")
    rows.loc[7, "ID"] = rows.loc[3, "ID"]
    settings = settings_factory(warehouse_url)
    with pytest.raises(PulseError) as e:
        run(settings, [write_csv(rows, tmp_path / "dupes.csv")])
    msg = str(e.value)
    assert "\n" not in msg and "dupes.csv" in msg and "repeats" in msg and "row 4" in msg
    assert q(warehouse_url, "SELECT count(*) FROM fct_incidents")[0][0] == 0
    assert q(warehouse_url, "SELECT status FROM load_audit")[0][0] == "failed"


def test_one_bad_file_does_not_block_the_others(prefect_harness, settings_factory, duckdb_url, data_dir, tmp_path):
    good = write_csv(real_rows(data_dir, 10, "22"), tmp_path / "good.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("ID,Date\n")
    settings = settings_factory(duckdb_url)
    with pytest.raises(PulseError) as e:
        run(settings, [bad, good])
    assert "bad.csv" in str(e.value)


def test_api_mode_retries_and_keeps_a_watermark(prefect_harness, settings_factory, duckdb_url, data_dir, tmp_path):
    rows = real_rows(data_dir, 120, "22")
    records = csv_rows_to_socrata(rows)
    # request 0 = count; then pages of 50: a 500, a 429 with Retry-After and a truncated body on the way.
    with SocrataStub(records, faults={1: "500", 3: "429", 4: "truncate"}) as stub:
        settings = settings_factory(duckdb_url)
        settings.override_source("police_chicago", api_base_url=stub.base_url, page_size=50)
        out = run(settings, mode="api")
        assert sum(s["rows_loaded"] + s["rows_quarantined"] for s in out) == 120
        assert q(duckdb_url, "SELECT count(*) FROM fct_incidents")[0][0] == sum(s["rows_loaded"] for s in out)
        wm = q(duckdb_url, "SELECT watermark FROM source_watermarks")[0][0]
        assert wm == max(r["updated_on"] for r in records)
        # Incremental: nothing newer than the watermark -> no pages, nothing loaded.
        again = run(settings, mode="api")
        assert again == []
        assert any(r.get("$where", "").startswith("updated_on >") for r in stub.requests[-2:])


def test_api_empty_page_mid_stream_does_not_advance_the_watermark(prefect_harness, settings_factory, duckdb_url,
                                                                   data_dir):
    records = csv_rows_to_socrata(real_rows(data_dir, 120, "22"))
    with SocrataStub(records, faults={2: "empty"}) as stub:
        settings = settings_factory(duckdb_url)
        settings.override_source("police_chicago", api_base_url=stub.base_url, page_size=50)
        with pytest.raises(PulseError) as e:
            run(settings, mode="api")
        assert "returned 50 of 120" in str(e.value)
        assert q(duckdb_url, "SELECT count(*) FROM source_watermarks")[0][0] == 0


def test_new_city_by_configuration_only(prefect_harness, settings_factory, duckdb_url):
    config = __import__("pathlib").Path(__file__).resolve().parents[2] / "config" / "chicago_generic.toml"
    settings = settings_factory(duckdb_url, city_config=config)
    out = police_incidents_flow(settings=settings, source="police_generic")
    assert out[0]["rows_read"] == 1730 == out[0]["rows_loaded"] + out[0]["rows_quarantined"]
    assert q(duckdb_url, "SELECT count(DISTINCT neighborhood_id) FROM fct_incidents")[0][0] > 60

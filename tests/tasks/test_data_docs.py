from __future__ import annotations

import json
import logging
import re
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pytest

from tasks.ingest.data_docs import (
    EXPECTATIONS_DIR,
    build_data_docs,
    build_summary_docs,
    match_expectations,
    suite_for_table,
)
from tasks.ingest.validate import validate_batch_keys, validate_frame

POLICE_SUITE = EXPECTATIONS_DIR / "police_incidents.json"


def _summary(expectation, column, on_failure, rows, failures=0):
    return {"expectation": expectation, "column": column, "on_failure": on_failure,
            "success": failures == 0, "rows_checked": rows, "failures": failures}


def police_validation(rows: int, bad_latitudes: int = 0) -> list[dict]:
    """Per-expectation summaries in the order tasks/ingest/batch_path.py::finish_batch makes them: chunk-scope
    expectations of the suite, then the batch-scope ones."""
    chunk = [
        _summary("expect_table_columns_to_match_set", None, "fail_batch", rows),
        _summary("expect_column_values_to_not_be_null", "occurred_at", "fail_batch", rows),
        _summary("expect_column_values_to_not_be_null", "occurred_at", "quarantine", rows),
        _summary("expect_column_values_to_be_between", "occurred_at", "quarantine", rows),
        _summary("expect_column_values_to_match_regex", "raw_latitude", "quarantine", rows, bad_latitudes),
        _summary("expect_column_values_to_match_regex", "raw_longitude", "quarantine", rows),
        _summary("expect_column_values_to_be_between", "latitude", "quarantine", rows),
        _summary("expect_column_values_to_be_between", "longitude", "quarantine", rows),
        _summary("expect_column_values_to_be_in_set", "iucr", "quarantine", rows),
    ]
    batch = [_summary("expect_column_values_to_not_be_null", "incident_id", "fail_batch", rows),
             _summary("expect_column_values_to_be_unique", "incident_id", "fail_batch", rows)]
    return chunk + batch


def stored_results(validation_dir: Path) -> dict[str, dict]:
    """Return the GX validation-result JSON files under the store, by batch id."""
    folder = validation_dir / "store" / "results"
    return {p.stem: json.loads(p.read_text()) for p in folder.rglob("*.json")} if folder.exists() else {}


def test_two_runs_accumulate_in_one_site(tmp_path):
    docs = tmp_path / "validation"
    first = [
        {"batch_id": "police_chicago-aaaa1111", "origin": "/data/Crimes_2023.csv", "validation": police_validation(500)},
        {"batch_id": "police_chicago-bbbb2222", "origin": "/data/Crimes_2024.csv",
         "validation": police_validation(800, bad_latitudes=7)},
    ]
    second = [{"batch_id": "police_chicago-cccc3333", "origin": "/data/Crimes_2025.csv",
               "validation": police_validation(300)}]

    index = build_data_docs(docs, POLICE_SUITE, first, "nightly-one")
    assert index == docs / "index.html"
    assert build_data_docs(docs, POLICE_SUITE, second, "nightly two") == index

    html = index.read_text(encoding="utf-8")
    for text in ("nightly-one", "nightly-two", "police_chicago-aaaa1111", "police_chicago-bbbb2222",
                 "police_chicago-cccc3333", "Crimes_2024.csv"):
        assert text in html, text
    pages = sorted(p.stem for p in (docs / "validations" / "police_incidents").rglob("*.html"))
    assert pages == ["police_chicago-aaaa1111", "police_chicago-bbbb2222", "police_chicago-cccc3333"]
    assert (docs / "expectations" / "police_incidents.html").exists()

    results = stored_results(docs)
    assert set(results) == {"police_chicago-aaaa1111", "police_chicago-bbbb2222", "police_chicago-cccc3333"}
    assert results["police_chicago-aaaa1111"]["success"] is True
    failed = results["police_chicago-bbbb2222"]
    assert failed["success"] is False
    assert failed["statistics"]["unsuccessful_expectations"] == 1
    assert failed["meta"]["run_id"]["run_name"] == "nightly-one"
    regex = [r for r in failed["results"] if r["expectation_config"]["kwargs"].get("column") == "raw_latitude"][0]
    assert regex["success"] is False
    assert regex["result"]["element_count"] == 800
    assert regex["result"]["unexpected_count"] == 7
    assert regex["result"]["unexpected_percent"] == pytest.approx(100 * 7 / 800)
    # The configuration is the suite's own (kwargs and reason), not rebuilt from the summary.
    assert regex["expectation_config"]["kwargs"]["regex"].startswith("^\\s*[-+]?")
    assert regex["expectation_config"]["meta"]["reason"] == "latitude is not a number"


def test_same_type_and_column_matched_by_on_failure():
    suite = json.loads(POLICE_SUITE.read_text())
    validation = [_summary("expect_column_values_to_not_be_null", "occurred_at", "quarantine", 10),
                  _summary("expect_column_values_to_not_be_null", "occurred_at", "fail_batch", 10)]
    matched = match_expectations(suite, validation)
    assert [m["meta"]["on_failure"] for m in matched] == ["quarantine", "fail_batch"]
    assert "mostly" in matched[1]["kwargs"] and "mostly" not in matched[0]["kwargs"]


def test_suite_without_on_failure_matches_on_type_and_column():
    # The treatment suites only say meta.severity; on_failure is added when the flow runs them.
    suite = {"name": "s", "expectations": [
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "a"}, "meta": {"severity": "row"}},
        {"type": "expect_column_pair_values_a_to_be_greater_than_b", "kwargs": {"column_A": "b", "column_B": "c"},
         "meta": {"severity": "row"}},
    ]}
    validation = [_summary("expect_column_values_to_not_be_null", "a", "quarantine", 5),
                  _summary("expect_column_pair_values_a_to_be_greater_than_b", "b", "quarantine", 5, 1)]
    assert match_expectations(suite, validation) == suite["expectations"]


def test_summaries_from_validate_frame_become_results(tmp_path):
    """The dicts tasks/ingest/validate.py makes are documented as they are."""
    frame = pd.DataFrame({
        "incident_id": ["1", "2", "3"], "case_number": ["A", "B", "C"],
        "occurred_at": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01"]),
        "raw_occurred_at": ["01/01/2024", "02/01/2024", "03/01/2024"],
        "iucr": ["2024", "2024", "9999"], "offense_category": ["possession"] * 3, "is_drug_offense": [True] * 3,
        "raw_latitude": ["41.8", "41.9", "x"], "raw_longitude": ["-87.6", "-87.7", "-87.7"],
        "latitude": [41.8, 41.9, None], "longitude": [-87.6, -87.7, -87.7],
        "updated_at": pd.to_datetime(["2024-04-01"] * 3),
    })
    parameters = {"earliest_date": pd.Timestamp("2001-01-01"), "now": pd.Timestamp("2026-01-01"),
                  "lat_min": 41.6, "lat_max": 42.1, "lon_min": -87.95, "lon_max": -87.5,
                  "known_offense_codes": ["2024"]}
    chunk = validate_frame(frame, POLICE_SUITE, parameters, id_column="incident_id")
    keys = validate_batch_keys(frame[["incident_id"]], POLICE_SUITE, where="test")
    validation = chunk.results + keys.results

    build_data_docs(tmp_path, POLICE_SUITE, [{"batch_id": "b1", "origin": "f.csv", "validation": validation}], "r")

    result = stored_results(tmp_path)["b1"]
    assert len(result["results"]) == len(validation)
    assert [r["success"] for r in result["results"]] == [v["success"] for v in validation]
    assert result["success"] is False  # the regex and the code set each fail one row


def _unknown_expectation(tmp_path):
    bad = police_validation(10) + [_summary("expect_column_values_to_be_purple", "iucr", "quarantine", 10)]
    return POLICE_SUITE, bad


def _unknown_type_in_suite(tmp_path):
    suite = json.loads(POLICE_SUITE.read_text())
    suite["expectations"].append({"type": "expect_column_values_to_be_purple", "kwargs": {"column": "iucr"},
                                  "meta": {"on_failure": "quarantine"}})
    path = tmp_path / "police_incidents.json"
    path.write_text(json.dumps(suite))
    return path, police_validation(10) + [_summary("expect_column_values_to_be_purple", "iucr", "quarantine", 10)]


def _missing_suite(tmp_path):
    return tmp_path / "no_such_suite.json", police_validation(10)


def _suite_not_json(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("{ not json")
    return path, police_validation(10)


@pytest.mark.parametrize("broken", [_unknown_expectation, _unknown_type_in_suite, _missing_suite, _suite_not_json],
                         ids=["summary-not-in-suite", "unknown-type-in-suite", "missing-suite-file", "suite-not-json"])
def test_broken_input_logs_warning_and_returns_index(tmp_path, caplog, broken):
    suite_path, validation = broken(tmp_path)
    docs = tmp_path / "validation"
    with caplog.at_level(logging.WARNING, logger="tasks.ingest.data_docs"):
        index = build_data_docs(docs, suite_path, [{"batch_id": "bad-batch", "origin": "x.csv",
                                                    "validation": validation}], "run")
    assert index == docs / "index.html"
    assert any(r.levelno == logging.WARNING and r.name == "tasks.ingest.data_docs" for r in caplog.records)
    assert "bad-batch" not in stored_results(docs)


def test_bad_batch_does_not_hide_the_others(tmp_path, caplog):
    batches = [
        {"batch_id": "good", "origin": "good.csv", "validation": police_validation(10)},
        {"batch_id": "bad", "origin": "bad.csv", "validation": [_summary("expect_nothing", None, "quarantine", 1)]},
    ]
    with caplog.at_level(logging.WARNING, logger="tasks.ingest.data_docs"):
        index = build_data_docs(tmp_path, POLICE_SUITE, batches, "run")
    assert set(stored_results(tmp_path)) == {"good"}
    assert "good" in index.read_text()
    assert "expect_nothing" in caplog.text


def test_summary_docs_find_the_suite_by_table_and_skip_batches_without_results(tmp_path):
    assert suite_for_table("fct_incidents") == POLICE_SUITE
    assert suite_for_table("no_such_table") is None
    summaries = [
        {"batch_id": "loaded", "origin": "a.csv", "table": "fct_incidents", "status": "loaded",
         "validation": police_validation(5)},
        {"batch_id": "skipped", "origin": "b.csv", "table": "fct_incidents", "status": "skipped", "rows_read": 5},
    ]
    index = build_summary_docs(tmp_path, summaries, run_name=f"t-{datetime.now(timezone.utc):%H%M%S}")
    assert set(stored_results(tmp_path)) == {"loaded"}
    assert "loaded" in index.read_text()


CDN_HOSTS = ("cdn.jsdelivr.net", "cdnjs.cloudflare.com", "code.jquery.com", "stackpath.bootstrapcdn.com",
             "maxcdn.bootstrapcdn.com", "unpkg.com", "great-expectations-web-assets")


def test_localize_page_points_cdn_assets_at_the_vendor_copies():
    from tasks.ingest.docs_assets import localize_page

    html = ('<script src="https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js" integrity="sha384-x" '
            'crossorigin="anonymous"></script>\n<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/vega@5">'
            '<img src="https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/logo-long.png?d=1"/>')
    out = localize_page(html, "../../")
    assert out == ('<script src="../../static/vendor/bootstrap@4.3.1/dist/js/bootstrap.min.js"></script>\n'
                   '<link rel="stylesheet" href="../../static/vendor/vega@5.33.1/build/vega.min.js">'
                   '<img src="../../static/images/logo-long.png"/>')


def test_every_page_loads_its_assets_from_the_site_itself(tmp_path):
    from tasks.ingest.docs_assets import installed

    if not installed():
        pytest.fail("GX Data Docs assets are not installed: run `python -m tasks.ingest.docs_assets install`")
    docs = tmp_path / "validation"
    build_data_docs(docs, POLICE_SUITE, [{"batch_id": "b1", "origin": "f.csv", "validation": police_validation(10)}], "r")
    pages = [p for p in docs.rglob("*.html") if "vendor" not in p.parts]
    assert len(pages) >= 3  # index, the suite, the validation
    for page in pages:
        html = page.read_text(encoding="utf-8")
        assert not [h for h in CDN_HOSTS if h in html], page
        for ref in re.findall(r'(?:src|href)="([^"#?]+\.(?:js|css|png))', html):
            assert (page.parent / ref).resolve().is_file(), (page, ref)

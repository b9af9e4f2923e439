"""The validate task and the suites kept as JSON in expectations/."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from tasks.ingest.validate import run_suite, validate_batch_keys, validate_frame

SUITES = sorted((Path(__file__).resolve().parents[2] / "expectations").glob("*.json"))


@pytest.mark.parametrize("path", SUITES, ids=[p.stem for p in SUITES])
def test_every_expectation_says_what_a_failure_does(path):
    suite = json.loads(path.read_text())
    assert suite["expectations"]
    for e in suite["expectations"]:
        assert e["meta"]["on_failure"] in ("fail_batch", "quarantine"), e
        assert e["meta"].get("reason"), e


def suite_file(tmp_path, expectations) -> Path:
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"name": "s", "expectations": expectations}))
    return path


def test_quarantine_positions_follow_the_frame_index(tmp_path):
    path = suite_file(tmp_path, [
        {"type": "expect_column_values_to_be_between", "kwargs": {"column": "n", "min_value": 0},
         "meta": {"on_failure": "quarantine", "reason": "negative", "value_column": "raw_n"}},
        {"type": "expect_column_values_to_be_between", "kwargs": {"column": "when", "max_value": {"$PARAMETER": "now"}},
         "meta": {"on_failure": "quarantine", "reason": "future"}},
    ])
    frame = pd.DataFrame({"id": ["a", "b", "c"], "n": [1, -2, 3], "raw_n": ["1", "-2", "3"],
                          "when": pd.to_datetime(["2017-01-01", "2017-01-02", "2099-01-01"])}, index=[100, 101, 102])
    out = validate_frame(frame, path, {"now": pd.Timestamp("2026-01-01")}, id_column="id")
    assert list(out.valid_index) == [100]
    got = out.quarantine.set_index("row_index")
    assert got.loc[101, "value"] == "-2" and got.loc[101, "reason"] == "negative"
    assert got.loc[102, "reason"] == "future" and got.loc[102, "record_id"] == "c"


def test_a_parameter_given_as_none_skips_its_expectation(tmp_path):
    path = suite_file(tmp_path, [
        {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "code", "value_set": {"$PARAMETER": "codes"}},
         "meta": {"on_failure": "quarantine", "reason": "unknown code"}}])
    frame = pd.DataFrame({"id": ["a"], "code": ["zz"]})
    assert validate_frame(frame, path, {"codes": None}, id_column="id").results == []
    assert validate_frame(frame, path, {"codes": ["x"]}, id_column="id").n_quarantined == 1


def test_batch_scope_uniqueness_names_rows(tmp_path):
    path = suite_file(tmp_path, [
        {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "id"},
         "meta": {"on_failure": "fail_batch", "scope": "batch", "reason": "id repeats"}}])
    out = validate_batch_keys(pd.DataFrame({"id": ["a", "b", "a"]}), path, where="f.csv")
    assert len(out.critical_failures) == 1
    assert "row 1 (a)" in out.critical_failures[0] and "row 3 (a)" in out.critical_failures[0]


def test_an_unparseable_expectation_is_refused(tmp_path):
    path = suite_file(tmp_path, [{"type": "expect_no_such_thing", "kwargs": {"column": "x"},
                                  "meta": {"on_failure": "quarantine", "reason": "r"}}])
    with pytest.raises(Exception):
        run_suite(pd.DataFrame({"x": [1]}), json.loads(path.read_text()), {})

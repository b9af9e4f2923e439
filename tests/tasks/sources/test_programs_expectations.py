"""The program suites (expectations/programs.json, program_sessions.json) load into GX 1.x and catch the defects."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from schemas.programs import program_suite_parameters, session_suite_parameters, sessions_for_validation
from tasks.sources import programs_cpl as cpl
from tasks.sources import programs_demo as demo
from tasks.synthetic import programs as demo_gen

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
gx = pytest.importorskip("great_expectations")

SUITES = Path(__file__).resolve().parents[3] / "expectations"
CHICAGO_BBOX = [-87.95, 41.63, -87.50, 42.03]  # config/chicago.toml [city].bbox
KEY = b"test-key-for-pseudonyms-0123456789abcdef"


def suite_json(name: str) -> dict:
    return json.loads((SUITES / f"{name}.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def context():
    return gx.get_context(mode="ephemeral")


@pytest.fixture(scope="module")
def validate(context):
    """Return a function running a suite file on a frame; results keyed by (type, column)."""
    counter = iter(range(1000))

    def run(name: str, frame: pd.DataFrame, parameters: dict) -> dict:
        spec = suite_json(name)
        i = next(counter)
        suite = context.suites.add(gx.ExpectationSuite(**{**spec, "name": f"{name}-{i}"}))
        assert len(suite.expectations) == len(spec["expectations"])  # GX only logs a bad config
        batch = context.data_sources.add_pandas(f"src-{i}").add_dataframe_asset("frame") \
            .add_batch_definition_whole_dataframe("whole")
        definition = context.validation_definitions.add(gx.ValidationDefinition(name=f"vd-{i}", data=batch,
                                                                                 suite=suite))
        result = definition.run(batch_parameters={"dataframe": frame.reset_index(drop=True)},
                                expectation_parameters=parameters, result_format={"result_format": "COMPLETE"})
        out = {}
        for r in result.results:
            kw = r.expectation_config.kwargs
            assert not r.exception_info.get("raised_exception"), r.exception_info
            out[(r.expectation_config.type, kw.get("column") or kw.get("column_A"))] = (
                r.success, sorted(r.result.get("unexpected_index_list") or []), r.expectation_config.meta)
        assert len(out) == len(result.results)  # (type, column) names each expectation once
        return out

    return run


@pytest.fixture(scope="module")
def demo_feed(data_dir) -> demo_gen.DemoFeed:
    inputs = demo_gen.read_inputs(data_dir)
    return demo_gen.generate_programs(inputs["neighborhoods"], inputs["population"], inputs["incidents_by_area"],
                                  seed=11, blocks=inputs["blocks"])


@pytest.mark.parametrize("name", ["programs", "program_sessions"])
def test_suite_marks_every_expectation_critical_or_row(name):
    spec = suite_json(name)
    assert {e["meta"]["severity"] for e in spec["expectations"]} == {"critical", "row"}
    for e in spec["expectations"]:
        assert e["meta"]["on_failure"] == {"critical": "fail_batch", "row": "quarantine"}[e["meta"]["severity"]]


def test_session_suite_quarantines_exactly_the_planted_defects(validate, demo_feed):
    std = demo.to_standard(demo_feed.programs, demo_feed.sessions, demo_feed.roster, KEY)
    frame = sessions_for_validation(std.sessions, std.programs).reset_index(drop=True)
    results = validate("program_sessions", frame, session_suite_parameters(std.programs))
    expected: dict[tuple, list[int]] = {}
    for d in demo_feed.defects.itertuples():
        rows = frame.index[frame["session_id"] == d.session_id].tolist()
        assert len(rows) == d.n_rows
        expected.setdefault((d.expectation, d.column), []).extend(rows)
    for key, (success, unexpected, meta) in results.items():
        want = sorted(expected.get(key, []))
        assert unexpected == want, key
        assert success == (not want)
        if want:
            assert meta["severity"] == "row"
    assert set(expected) <= set(results)  # every defect kind has its expectation in the suite


def test_session_suite_passes_the_real_cpl_feed(validate, data_dir):
    feed = cpl.read_all(data_dir)
    frame = sessions_for_validation(feed.sessions, feed.programs)
    results = validate("program_sessions", frame, session_suite_parameters(feed.programs))
    assert [key for key, (ok, _, _) in results.items() if not ok] == []


def test_session_suite_fails_critically_without_derived_columns(validate, demo_feed):
    std = demo.to_standard(demo_feed.programs, demo_feed.sessions)
    results = validate("program_sessions", std.sessions, session_suite_parameters(std.programs))
    success, _, meta = results[("expect_table_columns_to_match_set", None)]
    assert not success and meta["severity"] == "critical"


def test_program_suite_passes_both_feeds_and_catches_bad_programs(validate, data_dir, demo_feed):
    params = program_suite_parameters(CHICAGO_BBOX)
    real = cpl.read_all(data_dir).programs
    synthetic = demo.to_standard(demo_feed.programs, demo_feed.sessions).programs
    good = pd.concat([real, synthetic], ignore_index=True)
    assert all(ok for ok, _, _ in validate("programs", good, params).values())
    bad = synthetic.copy()
    bad.loc[0, "program_type"] = "bingo_night"
    bad.loc[1, "ended_on"] = bad.loc[1, "started_on"] - pd.Timedelta(days=1)
    bad.loc[2, "latitude"] = 0.0
    results = validate("programs", bad, params)
    failed = {key: rows for key, (ok, rows, _) in results.items() if not ok}
    assert failed == {
        ("expect_column_values_to_be_in_set", "program_type"): [0],
        ("expect_column_pair_values_a_to_be_greater_than_b", "ended_on"): [1],
        ("expect_column_values_to_be_between", "latitude"): [2],
    }

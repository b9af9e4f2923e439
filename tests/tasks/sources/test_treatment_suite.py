"""The GX suites for treatment admissions catch exactly the generator's defects (row level) and
fail the batch only for critical problems."""
from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from schemas.teds_codes import load_teds_codes
from schemas.treatment import ADMISSIONS, admission_suite_parameters, teds_suite_parameters
from tasks.synthetic import treatment as demo
from tasks.sources import treatment_provider, treatment_teds

gx = pytest.importorskip("great_expectations")
from great_expectations.core import ExpectationSuite  # noqa: E402
from great_expectations.data_context.types.base import ProgressBarsConfig  # noqa: E402

EXPECTATIONS = Path(__file__).resolve().parents[3] / "expectations"
KEY = b"k" * 32
# The export is as of the generator's last day; a run date makes 2051+ typos future dates.
RUN_DATE = datetime(2018, 11, 13)


def _suite_json(name: str) -> dict:
    return json.loads((EXPECTATIONS / f"{name}.json").read_text())


@pytest.fixture(scope="module")
def context():
    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    return ctx


def _validate(ctx, suite_name: str, frame: pd.DataFrame, params: dict, tag: str):
    suite = ctx.suites.add(ExpectationSuite(**{**_suite_json(suite_name), "name": f"{suite_name}_{tag}"}))
    asset = ctx.data_sources.add_pandas(f"src_{tag}").add_dataframe_asset("frame")
    batch = asset.add_batch_definition_whole_dataframe("all")
    vd = ctx.validation_definitions.add(gx.ValidationDefinition(name=f"vd_{tag}", data=batch, suite=suite))
    return vd.run(batch_parameters={"dataframe": frame}, expectation_parameters=params,
                  result_format={"result_format": "COMPLETE"})


def _unexpected_rows(result, severity: str) -> dict[str, set[int]]:
    out = {}
    for r in result.results:
        assert not r.exception_info.get("raised_exception"), r.exception_info
        if r.expectation_config.meta["severity"] == severity and not r.success:
            key = f"{r.expectation_config.type}:{r.expectation_config.kwargs.get('column')}"
            out[key] = set(r.result.get("unexpected_index_list") or [])
    return out


@pytest.mark.parametrize("name", ["treatment_admissions", "teds_admissions"], ids=str)
def test_suite_json_loads_completely(name):
    raw = _suite_json(name)
    suite = ExpectationSuite(**raw)
    # GX drops an invalid expectation with only a log line: compare counts.
    assert len(suite.expectations) == len(raw["expectations"])
    severities = {e["meta"]["severity"] for e in raw["expectations"]}
    assert severities == {"critical", "row"}


def test_critical_expectations_are_the_batch_level_ones():
    critical = [(e["type"], e["kwargs"].get("column")) for e in _suite_json("treatment_admissions")["expectations"]
                if e["meta"]["severity"] == "critical"]
    assert {c for t, c in critical if t == "expect_column_to_exist"} == set(ADMISSIONS.column_names)
    assert ("expect_column_values_to_not_be_null", "admission_id") in critical
    assert ("expect_column_values_to_be_unique", "admission_id") not in critical


@pytest.fixture(scope="module")
def demo_std(data_dir):
    codes = load_teds_codes(data_dir)
    generated = demo.generate_admissions(codes, *demo.load_address_reference(data_dir), n=3_500, seed=21,
                                         defect_rate=0.02)
    std, _ = treatment_provider.to_standard(generated.export, KEY)
    return generated, std


def test_row_level_failures_are_exactly_the_defects(context, demo_std):
    generated, std = demo_std
    result = _validate(context, "treatment_admissions", std, admission_suite_parameters(RUN_DATE), "demo")
    assert _unexpected_rows(result, "critical") == {}
    flagged = _unexpected_rows(result, "row")
    defects = generated.defects
    # Addresses are not canonical columns: the geocoder, not this suite, quarantines them.
    in_suite = defects[defects["defect"] != "unparseable_address"]
    expected = set(in_suite["row"]) | set(defects["duplicate_of"].dropna().astype(int))
    assert set().union(*flagged.values()) == expected

    by_kind = in_suite.groupby("defect")["row"].apply(set)
    duplicates = by_kind["duplicate_identical"] | by_kind["duplicate_conflicting"]
    assert flagged["expect_column_values_to_be_unique:admission_id"] >= duplicates
    assert flagged["expect_column_values_to_not_be_null:admitted_on"] == by_kind["impossible_date"]
    assert flagged["expect_column_values_to_be_between:admitted_on"] == by_kind["future_date"]
    for d in in_suite[in_suite["defect"] == "blank_code"].itertuples():
        column = next(c for c, v in treatment_provider.CODE_COLUMNS.items() if v == d.field)
        assert d.row in flagged[f"expect_column_values_to_not_be_null:{column}"]


def test_clean_demo_passes_every_expectation(context, data_dir):
    codes = load_teds_codes(data_dir)
    generated = demo.generate_admissions(codes, *demo.load_address_reference(data_dir), n=1_000, seed=2,
                                         defect_rate=0.0)
    std, _ = treatment_provider.to_standard(generated.export, KEY)
    result = _validate(context, "treatment_admissions", std, admission_suite_parameters(RUN_DATE), "clean")
    assert result.success, [r.expectation_config.type for r in result.results if not r.success]


def test_missing_admission_ids_fail_the_batch(context, demo_std):
    _, std = demo_std
    broken = std.assign(admission_id=std["admission_id"].where(std.index % 2 == 0))
    result = _validate(context, "treatment_admissions", broken, admission_suite_parameters(RUN_DATE), "noid")
    assert "expect_column_values_to_not_be_null:admission_id" in _unexpected_rows(result, "critical")


def test_teds_suite_passes_the_real_rows(context, data_dir):
    raw = treatment_teds.read_raw(data_dir / "teds/tedsa_2017_subset_semework.csv")
    std = treatment_teds.to_standard(raw, default_admission_year=2017).admissions
    result = _validate(context, "teds_admissions", std, teds_suite_parameters(), "teds")
    assert _unexpected_rows(result, "critical") == {}
    assert _unexpected_rows(result, "row") == {}

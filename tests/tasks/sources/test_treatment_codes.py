"""schemas/teds_codes.py and the treatment schemas against the real TEDS-A 2017 codebook parse."""
from __future__ import annotations

import pandas as pd
import pytest

from schemas.teds_codes import (
    CODEBOOK_VALUES,
    CRIMINAL_JUSTICE_REFERRAL,
    DIMENSIONS,
    MISSING_CODE,
    OPIOID_SUBSTANCE_CODES,
    code_dimension,
    code_frequencies,
    code_parameters,
    load_teds_codes,
)
from schemas.treatment import ADMISSIONS, CODE_COLUMNS, TEDS_STATE_ADMISSIONS, admission_suite_parameters
from schemas.errors import InputError
from tasks.sources.treatment_teds import TEDS_VARIABLES

TEDS_2017_TOTAL = 2_005_395  # TEDS-A 2017 admissions (codebook)


@pytest.fixture(scope="module")
def codes(data_dir):
    return load_teds_codes(data_dir)


def test_loader_columns_and_types(codes):
    assert list(codes.columns) == ["variable", "value", "label", "frequency_2017"]
    assert str(codes["value"].dtype) == "int64"
    assert codes.groupby("variable")["frequency_2017"].sum().eq(TEDS_2017_TOTAL).all()


@pytest.mark.parametrize("variable", sorted(CODEBOOK_VALUES), ids=str)
def test_constants_match_codebook(codes, variable):
    assert CODEBOOK_VALUES[variable] == tuple(sorted(codes.loc[codes["variable"] == variable, "value"]))


@pytest.mark.parametrize("dim, variable", sorted(DIMENSIONS.items()), ids=sorted(DIMENSIONS))
def test_code_dimension(codes, dim, variable):
    table = code_dimension(codes, variable)
    assert list(table.columns) == ["code", "label", "is_missing"]
    assert [str(t) for t in table.dtypes] == ["Int64", "str", "boolean"]
    assert tuple(table["code"]) == CODEBOOK_VALUES[variable]
    has_missing = MISSING_CODE in CODEBOOK_VALUES[variable]
    assert table.loc[table["is_missing"], "code"].tolist() == ([MISSING_CODE] if has_missing else [])
    assert table["label"].str.len().gt(0).all()


def test_named_codes_have_the_codebook_labels(codes):
    sub1 = code_dimension(codes, "SUB1").set_index("code")["label"]
    assert [sub1[c] for c in OPIOID_SUBSTANCE_CODES] == ["Heroin", "Non-prescription methadone",
                                                          "Other opiates and synthetics"]
    psource = code_dimension(codes, "PSOURCE").set_index("code")["label"]
    assert "criminal justice" in psource[CRIMINAL_JUSTICE_REFERRAL].lower()


def test_frequencies_are_shares(codes):
    p = code_frequencies(codes, "SUB1")
    assert p.sum() == pytest.approx(1.0)
    assert p[5] == pytest.approx(533_394 / TEDS_2017_TOTAL)


def test_unknown_variable_is_a_key_error(codes):
    with pytest.raises(KeyError):
        code_dimension(codes, "NOPE")


def test_missing_codebook_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="tedsa_2017_value_labels.csv: file not found"):
        load_teds_codes(tmp_path)


def test_teds_variable_list_matches_codebook_appendix(data_dir):
    listed = pd.read_csv(data_dir / "teds/tedsa_2017_variables.csv")["variable"]
    assert tuple(listed) == TEDS_VARIABLES


def test_schema_codes_are_codebook_values():
    for schema in (ADMISSIONS, TEDS_STATE_ADMISSIONS):
        for col, var in CODE_COLUMNS.items():
            assert schema.column(col).allowed == CODEBOOK_VALUES[var]
            assert schema.column(col).type == "int"
    assert ADMISSIONS.person_level and not TEDS_STATE_ADMISSIONS.person_level
    assert "neighborhood_id" not in TEDS_STATE_ADMISSIONS.column_names
    assert not {"address", "client_id", "street"} & set(ADMISSIONS.column_names)


def test_suite_parameters_cover_every_code_column():
    params = admission_suite_parameters(pd.Timestamp("2018-11-13", tz="America/Chicago"))
    assert params["now"].tzinfo is None
    assert set(code_parameters(tuple(CODE_COLUMNS.values()))) <= set(params)
    assert params["sub1_codes"] == list(CODEBOOK_VALUES["SUB1"])

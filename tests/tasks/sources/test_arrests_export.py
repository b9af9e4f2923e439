"""The arrests export adapter: one-line errors, canonical values, pseudonyms, and the suite's verdicts."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from schemas.arrests import ARRESTS, age_group_code, age_in_years, known_charge_codes
from schemas.errors import InputError
from schemas.iucr_codes import known_iucr_codes
from tasks.ingest.pseudonymize import pseudonymize
from tasks.ingest.validate import validate_frame
from tasks.sources import arrests_export
from tasks.sources.adapter import QUARANTINE_REASON, Adapter
from tasks.sources.treatment_provider import to_standard as admissions_to_standard

KEY = b"k" * 32
FIXTURES = Path(__file__).resolve().parents[2] / "data" / "arrests_export"
SUITE = Path(__file__).resolve().parents[3] / "expectations" / "arrests.json"
RUN_DATE = datetime(2018, 11, 13)


@pytest.fixture(scope="module")
def adapter(data_dir) -> Adapter:
    lookup = pd.read_csv(data_dir / "chicago_crimes/iucr_codes.csv", dtype="str")
    return arrests_export.arrests_export_adapter(KEY, RUN_DATE, known_charge_codes(known_iucr_codes(lookup)),
                                                 [str(i) for i in range(1, 78)])


@pytest.fixture(scope="module")
def standard(adapter) -> pd.DataFrame:
    raw = pa.Table.from_batches(list(adapter.read_raw(FIXTURES / "arrests.csv"))).to_pandas()
    return adapter.to_standard(raw)


@pytest.fixture(scope="module")
def validated(adapter, standard):
    rows = standard[standard[QUARANTINE_REASON].isna()]
    return rows, validate_frame(rows, SUITE, adapter.suite_parameters, id_column="arrest_id")


def test_adapter_face(adapter):
    assert adapter.slug == "arrests_export" and adapter.schema is ARRESTS and adapter.geocoder is None
    assert (SUITE.parent / f"{adapter.suite}.json").exists()
    assert set(adapter.sensitive_columns) == {"PERSON_ID", "BIRTH_DATE"}


def test_clean_lines_become_canonical_values(standard):
    clean = standard.iloc[:5]
    assert ARRESTS.check(ARRESTS.coerce(clean)) == []
    assert clean["charge_code"].tolist() == ["2027", "0486", "031A", "1811", "0820"]
    assert clean["is_drug_charge"].tolist() == [True, False, False, True, False]
    assert clean["offense_category"].tolist()[:1] == ["possession"]
    assert clean["neighborhood_id"].tolist() == ["25", "7", "25", "23", "23"]
    assert clean["sex"].tolist() == [1, 1, 2, -9, -9]
    # 2000-02-29 -> 2017-02-28 is the day before the 17th birthday
    assert clean["age_at_arrest"].tolist() == [26, 27, 31, 18, 16]
    assert clean["age_group"].tolist() == [5, 5, 6, 3, 2]
    assert clean["is_synthetic"].all()


def test_person_ids_leave_as_the_same_hmac_as_admissions(standard):
    assert "PERSON_ID" not in standard.columns and "person_id" not in standard.columns
    expected = pseudonymize(pd.Series(["P001"]), KEY).iloc[0]
    assert standard.loc[0, "person_key"] == expected
    export = pd.DataFrame({c: ["1"] for c in ("ADMISSION_ID", "PROVIDER_ID", "AGE", "GENDER", "SUB1", "SUB2",
                                               "ROUTE1", "FREQ1", "PSOURCE", "NOPRIOR", "SERVICES")})
    export = export.assign(CLIENT_ID="P001", ADMIT_DATE="01/02/2017", ADDRESS="1 N STATE ST", ZIP="60602")
    admissions, _ = admissions_to_standard(export, KEY)
    assert admissions.loc[0, "client_key"] == expected  # one raw id, one key -> the feeds link


def test_a_line_empty_in_every_field_is_quarantined_by_the_adapter(standard):
    assert standard[QUARANTINE_REASON].notna().tolist() == [False] * 13 + [True]


@pytest.mark.parametrize("arrest_id, expectation, column", [
    ("AR6", "expect_column_values_to_not_be_null", "arrested_on"),
    ("AR7", "expect_column_pair_values_a_to_be_greater_than_b", "arrested_on"),
    ("AR8", "expect_column_values_to_be_between", "arrested_on"),
    ("AR9", "expect_column_values_to_not_be_null", "person_key"),
    ("AR10", "expect_column_values_to_be_in_set", "charge_code"),
    ("AR11", "expect_column_values_to_be_in_set", "neighborhood_id"),
    ("AR12", "expect_column_values_to_not_be_null", "sex"),
    ("AR1", "expect_column_values_to_be_unique", "arrest_id"),
], ids=["impossible-date", "before-birth", "future", "no-person", "unknown-charge", "unknown-area", "bad-sex",
        "duplicate-id"])
def test_suite_quarantines_each_defect(validated, arrest_id, expectation, column):
    _, out = validated
    assert out.critical_failures == []
    hits = out.quarantine[(out.quarantine["expectation"] == expectation) & (out.quarantine["column_name"] == column)]
    assert arrest_id in set(hits["record_id"])


def test_suite_keeps_every_clean_line(validated):
    rows, out = validated
    kept = set(rows.loc[out.valid_index, "arrest_id"])
    assert kept == {"AR2", "AR3", "AR4", "AR5"}  # AR1 is repeated: both copies wait for the records office


def test_before_birth_value_names_the_birth_date(validated):
    _, out = validated
    q = out.quarantine[out.quarantine["record_id"] == "AR7"]
    assert "2019-01-01" in set(q["value"])


@pytest.mark.parametrize("name, problem", [
    ("header_only.csv", "header but no data rows"),
    ("renamed_column.csv", "column 'PERSON_ID' is missing"),
    ("absent.csv", "file not found"),
], ids=["header-only", "renamed-column", "missing-file"])
def test_bad_files_raise_one_line(name, problem):
    with pytest.raises(InputError) as err:
        list(arrests_export.read_raw(FIXTURES / name))
    assert problem in str(err.value) and "\n" not in str(err.value)


def test_short_key_is_refused():
    with pytest.raises(Exception, match="too short"):
        arrests_export.arrests_export_adapter(b"short", RUN_DATE, ["0486"])


def test_age_helpers_against_hand_computed_ages():
    born = pd.Series(pd.to_datetime(["2000-02-29", "1990-12-31", "2019-01-01"]))
    on = pd.Series(pd.to_datetime(["2018-03-01", "2017-12-30", "2017-01-01"]))
    assert age_in_years(born, on).tolist() == [18, 26, -2]
    assert age_group_code(pd.Series([11, 12, 14, 15, 24, 25, 64, 65, None])).tolist()[1:8] == [1, 1, 2, 4, 5, 11, 12]
    assert age_group_code(pd.Series([11.0])).isna().all()

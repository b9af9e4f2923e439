"""TEDS-A public-use adapter on real 2017 rows and a hand-written PUF-layout fixture."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from schemas.treatment import TEDS_STATE_ADMISSIONS
from schemas.errors import InputError
from tasks.sources.treatment_teds import TEDS_VARIABLES, read_raw, to_standard

FIXTURES = Path(__file__).resolve().parents[2] / "data" / "treatment"


@pytest.fixture(scope="module")
def semework(data_dir):
    return read_raw(data_dir / "teds/tedsa_2017_subset_semework.csv")


def test_read_raw_keeps_only_codebook_columns(semework):
    assert len(semework) == 425
    assert set(semework.columns) <= set(TEDS_VARIABLES)
    assert not {"CBSA", "city", "lat", "POPESTIMATE2017", "index"} & set(semework.columns)
    assert all(str(t) == "str" for t in semework.dtypes)


def test_real_rows_standardize_with_empty_rows_rejected(semework):
    result = to_standard(semework)
    rows = result.admissions
    assert TEDS_STATE_ADMISSIONS.check(rows) == []
    assert len(rows) == 416 and len(result.rejects) == 9
    assert result.rejects["reason"].eq("empty in every TEDS column").all()
    assert result.rejects["row"].tolist() == list(range(416, 425))
    assert rows["caseid"].str.fullmatch(r"2017\d{7}").all()  # float text "20171889514.0" cast back
    assert rows["caseid"].is_unique
    assert rows["admission_year"].isna().all() and rows["sex"].isna().all() and rows["referral_source"].isna().all()
    assert sorted(result.notes) == ["ADMYR absent: admission_year left null", "GENDER absent: sex left null",
                                    "PSOURCE absent: referral_source left null"]
    assert rows["state_fips"].value_counts().head(3).to_dict() == {29: 179, 46: 88, 2: 73}  # MO, SD, AK
    assert "neighborhood_id" not in rows.columns


def test_default_admission_year_fills_a_missing_admyr(semework):
    result = to_standard(semework, default_admission_year=2017)
    assert result.admissions["admission_year"].eq(2017).all()
    assert "ADMYR absent: admission_year set to 2017 for every row" in result.notes


def test_puf_layout_fixture():
    result = to_standard(read_raw(FIXTURES / "teds_puf_small.csv"))
    rows, rejects = result.admissions, result.rejects
    assert TEDS_STATE_ADMISSIONS.check(rows) == []
    assert rows["caseid"].tolist() == ["20170000001", "20170000002"]
    second = rows.loc[1, ["admission_year", "state_fips", "cbsa", "age_group", "prior_episodes"]]
    assert second.tolist() == [2017, 17, -9, 7, -9]
    assert rejects[["row", "reason"]].values.tolist() == [
        [2, "empty in every TEDS column"],
        [3, "SUB1 'X' is not a whole number"],
    ]
    assert result.notes == []


def test_input_is_not_modified(semework):
    before = semework.copy()
    to_standard(semework)
    pd.testing.assert_frame_equal(semework, before)


@pytest.mark.parametrize(
    "content, words",
    [
        (b"", ["empty"]),
        (b"CASEID,STFIPS,AGE,SUB1,SUB2,ROUTE1,FREQ1,NOPRIOR,SERVICES\n", ["no data rows"]),
        (b"CASE_ID,STFIPS,AGE,SUB1,SUB2,ROUTE1,FREQ1,NOPRIOR,SERVICES\n1,17,5,5,1,4,3,0,7\n", ["'CASEID'", "CASE_ID"]),
        (b"CASEID,STFIPS,AGE,SUB1,SUB2,ROUTE1,FREQ1,NOPRIOR,SERVICES,RACE\n1,17,5,5,1,4,3,0,7,\xe9\n", ["UTF-8"]),
    ],
    ids=["empty", "header-only", "renamed-caseid", "non-utf8"],
)
def test_bad_files(tmp_path, content, words):
    path = tmp_path / "tedsa_puf.csv"
    path.write_bytes(content)
    with pytest.raises(InputError) as err:
        read_raw(path)
    msg = str(err.value)
    assert "\n" not in msg and "tedsa_puf.csv" in msg
    for word in words:
        assert word in msg

"""Provider export adapter: file -> text frame -> canonical admissions + address series."""
from __future__ import annotations

import gzip
import hashlib
import hmac
from pathlib import Path

import pandas as pd
import pytest

from schemas.teds_codes import load_teds_codes
from schemas.treatment import ADMISSIONS
from schemas.errors import InputError
from tasks.synthetic import treatment as demo
from tasks.sources.treatment_provider import read_raw, to_standard

FIXTURES = Path(__file__).resolve().parents[2] / "data" / "treatment"
KEY = b"0123456789abcdef0123456789abcdef"


@pytest.fixture(scope="module")
def fixture_std():
    raw = read_raw(FIXTURES / "provider_export.csv")
    return raw, *to_standard(raw, KEY)


def test_read_raw_is_all_text(fixture_std):
    raw = fixture_std[0]
    assert len(raw) == 5 and all(str(t) == "str" for t in raw.dtypes)
    assert raw["ZIP"].isna().sum() == 2  # blanks are null, not ""


def test_standard_frame_conforms(fixture_std):
    _, std, address = fixture_std
    assert list(std.columns) == ADMISSIONS.column_names + list(ADMISSIONS.extra["raw_columns"])
    clean = std[ADMISSIONS.column_names].iloc[[0, 1]]
    assert ADMISSIONS.check(clean) == []
    assert address.name == "address" and address.index.equals(std.index)
    assert address.tolist()[:2] == ["3247 W FILLMORE ST"] * 2 and pd.isna(address[2])


def test_values_are_parsed_and_raw_text_kept(fixture_std):
    _, std, _ = fixture_std
    assert std["admitted_on"].tolist()[:2] == [pd.Timestamp("2017-03-14"), pd.Timestamp("2017-11-02")]
    assert pd.isna(std.at[2, "admitted_on"]) and std.at[2, "raw_admitted_on"] == "02/30/2017"
    assert std.at[2, "primary_substance"] == 5  # "5.0"
    assert pd.isna(std.at[3, "primary_substance"]) and std.at[3, "raw_primary_substance"] == "UNK"
    assert pd.isna(std.at[4, "secondary_substance"])  # blank
    assert std.at[4, "service_setting"] == 99  # out of codebook: left for the suite
    assert std["residence_zip"].tolist()[:3] == ["60624", "60624", "60640"]
    assert std["is_synthetic"].all()
    assert std[["neighborhood_id", "geocode_method", "geocode_precision", "match_score"]].isna().all().all()


def test_client_id_is_pseudonymized_and_never_returned(fixture_std):
    raw, std, address = fixture_std
    expected = hmac.new(KEY, b"C0000001", hashlib.sha256).hexdigest()
    assert std.at[0, "client_key"] == expected == std.at[1, "client_key"]  # same client, same key
    assert std.at[3, "client_key"] == hmac.new(KEY, b"C0000003", hashlib.sha256).hexdigest()
    raw_ids = set(raw["CLIENT_ID"].str.strip())
    cells = set(std.astype("str").stack().str.strip()) | set(address.dropna())
    assert not raw_ids & cells
    assert not any("client_id" in c.lower() for c in std.columns)


def test_headers_are_case_insensitive(tmp_path):
    text = (FIXTURES / "provider_export.csv").read_text()
    lower = tmp_path / "lower.csv"
    lower.write_text(text.split("\n", 1)[0].lower() + "\n" + text.split("\n", 1)[1])
    assert list(read_raw(lower).columns) == list(read_raw(FIXTURES / "provider_export.csv").columns)


def test_input_frame_is_not_modified():
    raw = read_raw(FIXTURES / "provider_export.csv")
    before = raw.copy()
    to_standard(raw, KEY)
    pd.testing.assert_frame_equal(raw, before)


def test_without_synthetic_column_rows_are_real(fixture_std):
    raw = fixture_std[0].drop(columns="SYNTHETIC")
    std, _ = to_standard(raw, KEY)
    assert not std["is_synthetic"].any()


def test_demo_export_standardizes_to_the_schema(data_dir, tmp_path):
    codes = load_teds_codes(data_dir)
    generated = demo.generate_admissions(codes, *demo.load_address_reference(data_dir), n=3_000, seed=1,
                                         defect_rate=0.0)
    path = tmp_path / "export.csv.gz"
    generated.export.to_csv(path, index=False)
    std, address = to_standard(read_raw(path), KEY)
    assert ADMISSIONS.check(std[ADMISSIONS.column_names]) == []
    assert std["client_key"].nunique() == generated.export["CLIENT_ID"].nunique()
    assert address.isna().sum() == (generated.truth["address_kind"] == "zip_only").sum()


def _non_utf8(tmp_path: Path) -> Path:
    path = tmp_path / "cp1252.csv"
    good = (FIXTURES / "provider_export.csv").read_bytes()
    path.write_bytes(good.replace(b"3247 W FILLMORE ST,60624-1234", "3247 W CAF\u00c9 ST,60624".encode("cp1252")))
    return path


def _truncated_gzip(tmp_path: Path) -> Path:
    path = tmp_path / "cut.csv.gz"
    rows = (FIXTURES / "provider_export.csv").read_bytes() * 400
    data = gzip.compress(rows)
    path.write_bytes(data[: len(data) // 2])
    return path


BAD_FILES = [
    ("missing", lambda tmp: tmp / "nope.csv", ["nope.csv", "not found"]),
    ("empty", lambda tmp: FIXTURES / "provider_empty.csv", ["provider_empty.csv", "empty"]),
    ("header-only", lambda tmp: FIXTURES / "provider_header_only.csv", ["provider_header_only.csv", "no data rows"]),
    ("missing-column", lambda tmp: FIXTURES / "provider_missing_column.csv",
     ["provider_missing_column.csv", "'PSOURCE'"]),
    ("renamed-column", lambda tmp: FIXTURES / "provider_renamed_column.csv",
     ["provider_renamed_column.csv", "'CLIENT_ID'", "CLIENT_NO"]),
    ("non-utf8", _non_utf8, ["cp1252.csv", "UTF-8"]),
    ("truncated-gzip", _truncated_gzip, ["cut.csv.gz", "truncated"]),
]


@pytest.mark.parametrize("make, words", [(m, w) for _, m, w in BAD_FILES], ids=[i for i, _, _ in BAD_FILES])
def test_bad_files_give_one_line_input_errors(tmp_path, make, words):
    with pytest.raises(InputError) as err:
        read_raw(make(tmp_path))
    msg = str(err.value)
    assert "\n" not in msg
    for word in words:
        assert word in msg

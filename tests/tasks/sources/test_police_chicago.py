"""Chicago adapter: both file layouts, the API shape, and bad input with one-line errors."""
from __future__ import annotations

import gzip

import pandas as pd
import pyarrow as pa
import pytest

from schemas.incidents import INCIDENTS
from schemas.errors import InputError
from tasks.sources import police_chicago
from tests.police_files import real_rows, write_csv
from tests.socrata_stub import csv_rows_to_socrata


def standardize_file(path):
    table = pa.Table.from_batches(list(police_chicago.read_raw(path)))
    return police_chicago.to_standard(table.to_pandas())


@pytest.mark.parametrize("layout", ["20", "22"], ids=["bulk-20-columns", "portal-22-columns"])
def test_both_layouts_standardize_to_the_schema(data_dir, tmp_path, layout):
    path = write_csv(real_rows(data_dir, 40, layout), tmp_path / "in.csv.gz", gz=True)
    std = standardize_file(path)
    canon = INCIDENTS.coerce(std)
    assert INCIDENTS.check(canon) == []
    assert len(canon) == 40
    assert canon["occurred_at"].notna().all()
    assert set(canon["offense_category"]) <= set(INCIDENTS.column("offense_category").allowed)


def test_real_bulk_file_reads_every_row_and_flags_drug_offenses(data_dir):
    std = standardize_file(data_dir / "chicago_crimes/chicago_crimes_2018_through_1112.csv.gz")
    assert len(std) == 230_659
    drug = std[std["is_drug_offense"]]
    # PROVENANCE.md: 11,060 NARCOTICS rows in 2018; OTHER NARCOTIC VIOLATION adds a few.
    assert (std["primary_type"] == "NARCOTICS").sum() == 11_060
    assert 11_060 <= len(drug) <= 11_100
    assert set(drug["nibrs_code"]) <= {"35A", "35B"}
    assert std.loc[~std["is_drug_offense"], "nibrs_code"].isna().all()


def test_values_and_time_zone_are_parsed_as_published(data_dir, tmp_path):
    rows = real_rows(data_dir, 3, "22")
    std = standardize_file(write_csv(rows, tmp_path / "in.csv"))
    first = std.iloc[0]
    assert first["incident_id"] == rows.loc[0, "ID"]
    assert first["occurred_at"] == pd.Timestamp("2016-01-03 23:57:00")  # local wall-clock, no tz shift
    assert first["iucr"] == "0486" and first["offense_category"] == "non_drug"
    assert bool(first["is_domestic"]) is True
    assert first["source_area_id"] == "71"


def test_api_records_standardize_like_the_csv(data_dir):
    rows = real_rows(data_dir, 30, "22")
    from_csv = police_chicago.to_standard(rows.replace("", None))
    api = police_chicago.api_records_to_raw(csv_rows_to_socrata(rows)).to_pandas()
    from_api = police_chicago.to_standard(api)
    cols = [c for c in INCIDENTS.column_names]
    pd.testing.assert_frame_equal(INCIDENTS.coerce(from_csv)[cols].reset_index(drop=True),
                                  INCIDENTS.coerce(from_api)[cols].reset_index(drop=True))


def one_line(exc: Exception) -> str:
    msg = str(exc)
    assert "\n" not in msg and "Traceback" not in msg
    return msg


def test_missing_column_names_file_and_column(data_dir, tmp_path):
    path = write_csv(real_rows(data_dir, 5).drop(columns=["IUCR"]), tmp_path / "nocol.csv")
    with pytest.raises(InputError) as e:
        list(police_chicago.read_raw(path))
    msg = one_line(e.value)
    assert "nocol.csv" in msg and "'IUCR'" in msg


def test_renamed_column_suggests_the_fix(data_dir, tmp_path):
    path = write_csv(real_rows(data_dir, 5).rename(columns={"Case Number": "Case_Number"}), tmp_path / "renamed.csv")
    with pytest.raises(InputError) as e:
        list(police_chicago.read_raw(path))
    assert "found 'Case_Number'" in one_line(e.value)


def test_non_utf8_bytes_name_the_row(data_dir, tmp_path):
    path = write_csv(real_rows(data_dir, 5), tmp_path / "latin1.csv")
    lines = path.read_bytes().split(b"\n")
    lines[3] = lines[3].replace(b"RESIDENCE", b"RESIDENCIA \xe9\xe9", 1) if b"RESIDENCE" in lines[3] else lines[3] + b"\xe9"
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(InputError) as e:
        list(police_chicago.read_raw(path))
    msg = one_line(e.value)
    assert "latin1.csv:4" in msg and "UTF-8" in msg


def test_truncated_gzip(data_dir, tmp_path):
    path = write_csv(real_rows(data_dir, 400, "20"), tmp_path / "cut.csv.gz", gz=True)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError) as e:
        list(police_chicago.read_raw(path))
    assert "truncated or corrupt" in one_line(e.value)


@pytest.mark.parametrize("content,needle", [(b"", "empty"), (b"\n", "no header")], ids=["zero-bytes", "blank"])
def test_empty_files(tmp_path, content, needle):
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    with pytest.raises(InputError) as e:
        list(police_chicago.read_raw(path))
    assert needle in one_line(e.value)


def test_wrong_delimiter_is_named(data_dir, tmp_path):
    path = tmp_path / "semicolon.csv"
    real_rows(data_dir, 5).to_csv(path, sep=";", index=False)
    with pytest.raises(InputError) as e:
        list(police_chicago.read_raw(path))
    line = one_line(e.value)
    assert "semicolon-separated" in line and "semicolon.csv" in line and "comma-separated" in line


def test_gzip_header_only_reads_no_rows(data_dir, tmp_path):
    path = tmp_path / "header.csv.gz"
    with gzip.open(path, "wt") as fh:
        fh.write(",".join(real_rows(data_dir, 1).columns) + "\n")
    assert sum(b.num_rows for b in police_chicago.read_raw(path)) == 0

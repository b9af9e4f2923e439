"""Health Atlas survey downloads: the three real files, intervals where published, bad input."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from schemas.community_voice import SURVEY_INDICATORS
from schemas.errors import InputError
from tasks.geocode.points import load_neighborhoods
from tasks.ingest.validate import validate_frame
from tasks.sources import community_survey as cs

SUITE = Path(__file__).resolve().parents[3] / "expectations" / "survey_indicators.json"
PARAMS = {"known_area_ids": [str(i) for i in range(1, 78)]}
FILES = {
    "health_atlas_hcs_community_areas_2021-2022.csv": (39, 3_003),
    "health_atlas_hcs_safety_trust_2022-2023.csv": (9, 693),
    "health_atlas_hcs_violence_safety_trust_2022-2023.csv": (14, 1_078),
}


def standardize(path):
    raw = pa.Table.from_batches(list(cs.read_raw(Path(path)))).to_pandas()
    return cs.standardize_indicators(raw)


@pytest.fixture(scope="module")
def hoods(data_dir):
    return load_neighborhoods(data_dir / "chicago_boundaries/community_areas.geojson", "area_numbe", "community")


@pytest.mark.parametrize("name", list(FILES), ids=lambda n: n.split("_")[-1])
def test_real_files_give_one_row_per_area_and_indicator(data_dir, hoods, name):
    n_indicators, n_rows = FILES[name]
    std = standardize(data_dir / "chicago_community_survey" / name)
    assert len(std) == n_rows == 77 * n_indicators
    assert SURVEY_INDICATORS.check(SURVEY_INDICATORS.coerce(std)) == []
    assert std["quarantine_reason"].isna().all()
    checked = cs.survey_area_step(hoods)(std)
    assert checked["quarantine_reason"].isna().all()  # every GEOID names the area the boundary file names
    out = validate_frame(std.drop(columns=["quarantine_reason"]), SUITE, PARAMS, id_column="indicator_row_id")
    assert out.critical_failures == [] and out.n_quarantined == 0


def test_published_ranges(data_dir):
    """PROVENANCE.md: perceived safety 12.1-97.6 (median 59.2) in 2021-2022, 22.9-94.6 (58.3) in 2022-2023."""
    old = standardize(data_dir / "chicago_community_survey/health_atlas_hcs_community_areas_2021-2022.csv")
    new = standardize(data_dir / "chicago_community_survey/health_atlas_hcs_safety_trust_2022-2023.csv")
    for frame, period, (lo, med, hi) in ((old, "2021-2022", (12.1, 59.2, 97.6)), (new, "2022-2023", (22.9, 58.3, 94.6))):
        s = frame[(frame["indicator_code"] == "HCSNSP") & (frame["period_label"] == period)]["estimate"]
        assert (round(s.min(), 1), round(s.median(), 1), round(s.max(), 1)) == (lo, med, hi)
    survey = old[old["is_survey"]]
    assert set(survey["measure"]) == {"percent"}
    assert "CHAVQOS" in set(survey["indicator_code"])  # loneliness: cited to the survey, no HCS prefix
    violence = old[(old["indicator_code"] == "HCSNVP")]
    assert violence["is_suppressed"].sum() == 1 and violence["estimate"].isna().sum() == 1
    counts = new[new["indicator_code"] == "HCSNS"]
    assert set(counts["measure"]) == {"count"} and counts["sample_size"].isna().all()


def test_intervals_and_sample_base_where_published(bad_dir):
    std = standardize(bad_dir / "community_survey/atlas_with_intervals.csv").set_index("indicator_row_id")
    assert len(std) == 6  # 3 areas x 2 indicators: companion columns are not indicators
    row = std.loc["HCSNSP|2022-2023|1"]
    assert (row["estimate"], row["ci_lower"], row["ci_upper"], row["sample_size"]) == (60.5, 52.1, 68.4, 212)
    blank = std.loc["HCSNSP|2022-2023|2"]
    assert blank["is_suppressed"] and pd.isna(blank["estimate"]) and blank["sample_size"] == 14
    assert pd.isna(std.loc["POV|2018-2022|1", "ci_lower"])
    assert std.loc["HCSNSP|2022-2023|76", "source_area_name"] == "O'Hare"


def test_bad_cells_are_quarantined_with_reasons(bad_dir, hoods):
    std = standardize(bad_dir / "community_survey/atlas_bad_cells.csv")
    assert std["quarantine_reason"].notna().sum() == 3  # NOPERIOD column, one cell per area
    assert "is not <CODE>_<year>" in std["quarantine_reason"].dropna().iat[0]
    kept = cs.survey_area_step(hoods)(std[std["quarantine_reason"].isna()].drop(columns=["quarantine_reason"]))
    reasons = kept["quarantine_reason"].dropna().tolist()
    assert reasons == ["area name 'Rogers Park' is area 1 in the boundary file, but its GEOID is 2",
                       "GEOID '99' is not a community area number"]
    out = validate_frame(kept.drop(columns=["quarantine_reason"]), SUITE, PARAMS, id_column="indicator_row_id")
    assert sorted(out.quarantine["reason"]) == ["GEOID is not an area of the boundary file", "estimate is not a number"]


@pytest.mark.parametrize("name,message", [
    ("atlas_no_geoid.csv", "column 'GEOID' is missing"),
    ("atlas_cp1252.csv", "row 2 has bytes that are not utf-8"),
], ids=["no-geoid", "cp1252"])
def test_unreadable_files_are_one_line_errors(bad_dir, name, message):
    with pytest.raises(InputError, match=message):
        standardize(bad_dir / "community_survey" / name)

"""Health feeds through the shared batch path (standardize -> validate -> geocode, no Prefect) on
tiny hand-written fixtures: every row valid or quarantined with its reason; case versions staged;
the analyst policy keeps case-level tables closed."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from tasks.geocode.case_locations import case_geocoder
from tasks.geocode.points import load_neighborhoods
from tasks.ingest.health_feeds import (case_versions, estimated_window, examiner_adapter, examiner_spec, sentiment_reader,
                                       sentiment_spec, survey_reader, survey_spec)
from tasks.ingest.landing import file_sha256, land_batches
from tasks.ingest.stages import geocode_batch, standardize_batch, validate_staged
from warehouse.dbt_project import restricted_models
from warehouse.roles import analyst_may_read

FIXTURES = Path(__file__).resolve().parents[1] / "data"
HUB = {"adapter": "medical_examiner", "layout": "hub", "label": "hub_test"}


@pytest.fixture(scope="module")
def hoods(data_dir):
    return load_neighborhoods(data_dir / "chicago_boundaries/community_areas.geojson", "area_numbe", "community")


def run_batch(tmp_path: Path, spec, path: Path, reader):
    batch = land_batches(tmp_path / "raw", spec.source, str(path), file_sha256(path), reader(path))
    staged = standardize_batch(spec, batch, tmp_path / "stage", chunk_rows=1000)
    checked = validate_staged(spec, staged)
    placed = geocode_batch(spec, staged, checked)
    quarantine = pq.read_table(placed.quarantine_part).to_pandas() if placed.quarantine_part else pd.DataFrame()
    rows = pd.concat([pq.read_table(p).to_pandas() for p in placed.parts]) if placed.parts else pd.DataFrame()
    return batch, placed, rows, quarantine


def reasons_by_row(quarantine: pd.DataFrame) -> dict[int, str]:
    return quarantine.groupby("source_row")["reason"].apply(lambda r: " | ".join(sorted(set(r)))).to_dict()


def test_examiner_bad_rows_are_quarantined_with_reasons_and_the_rest_loads(tmp_path, hoods):
    adapter = examiner_adapter(HUB, "America/Chicago", pd.Timestamp("2026-01-01"))
    spec = examiner_spec("me_test", adapter, case_geocoder(hoods, projected_crs="EPSG:3435", xy_crs="EPSG:3435"))
    batch, placed, rows, quarantine = run_batch(tmp_path, spec, FIXTURES / "medical_examiner/hub_bad_rows.csv",
                                                adapter.read_raw)
    assert batch.rows == 6 and placed.rows_valid + placed.rows_quarantined == 6
    by_row = reasons_by_row(quarantine)
    assert set(by_row) == {2, 3, 4, 5}
    assert "case number (CASENUMBER) is empty" in by_row[2]
    assert "flag OPIOID_RELATED has an unknown value 'Maybe'" in by_row[3]
    assert "date of death is a placeholder" in by_row[4]
    assert "age is outside 0-120" in by_row[5]
    assert sorted(rows["case_number"]) == ["ME2099-00101", "ME2099-00106"]
    placed_rows = rows.set_index("case_number")
    assert placed_rows.loc["ME2099-00101", "neighborhood_id"] == "23"  # Humboldt Park, by its point
    assert pd.isna(placed_rows.loc["ME2099-00106", "neighborhood_id"])  # Cicero: outside the city, kept
    assert "address" not in rows  # the street never reaches the warehouse
    # The case versions (revision history) are staged beside the cases, one per loaded case.
    versions = pd.concat([pq.read_table(p).to_pandas() for p in placed.child_parts])
    assert sorted(versions["case_number"]) == ["ME2099-00101", "ME2099-00106"]
    assert set(versions["export_label"]) == {"hub_test"}


def test_case_versions_keep_the_flag_of_each_export():
    cases = pd.DataFrame({"case_number": ["A"], "export_label": ["early"], "edited_at": [pd.Timestamp("2019-01-01")],
                          "death_date": [pd.Timestamp("2018-05-01")], "manner": ["PENDING"],
                          "is_opioid_related": [False], "neighborhood_id": ["25"], "age": [40]})
    out = case_versions(cases)
    assert list(out.columns) == ["case_number", "export_label", "edited_at", "death_date", "manner",
                                 "is_opioid_related", "neighborhood_id"]
    assert not out.loc[0, "is_opioid_related"]


def test_sentiment_duplicates_are_counted_in_quarantine(tmp_path):
    spec = sentiment_spec("sentiment_test")
    batch, placed, rows, quarantine = run_batch(tmp_path, spec, FIXTURES / "police_sentiment/sentiment_quirks.csv",
                                                sentiment_reader)
    assert placed.rows_valid + placed.rows_quarantined == batch.rows
    by_row = reasons_by_row(quarantine)
    assert by_row[3] == "exact duplicate of data row 1"
    assert sum("exact duplicate" in r for r in by_row.values()) == placed.quarantine_reasons[
        "exact duplicate of data row 1"]
    assert any("different scores for the same unit and period" in r for r in by_row.values())
    assert any("SAFETY is outside 0-100" in r for r in by_row.values())


def test_survey_bad_cells_are_quarantined(tmp_path, hoods):
    spec = survey_spec("survey_test", hoods)
    batch, placed, rows, quarantine = run_batch(tmp_path, spec, FIXTURES / "community_survey/atlas_bad_cells.csv",
                                                survey_reader("utf-8-sig"))
    assert placed.rows_valid + placed.rows_quarantined == batch.rows
    reasons = " | ".join(quarantine["reason"])
    assert "estimate is not a number" in reasons
    assert "is not <CODE>_<year>" in reasons
    assert "GEOID" in reasons  # area 99 is not in the boundary file; 2 is not Rogers Park


@pytest.mark.parametrize("name", ["fct_medical_examiner_cases", "fct_medical_examiner_case_versions",
                                  "quarantine_medical_examiner_cases", "stg_health__medical_examiner_cases",
                                  "int_overdose_deaths_month"])
def test_case_level_objects_are_closed_to_analysts(name):
    assert not analyst_may_read(name, restricted_models())


@pytest.mark.parametrize("name", ["mart_overdose_deaths_month", "mart_overdose_deaths_by_group",
                                  "mart_community_voice", "ref_death_exports"])
def test_aggregated_marts_are_open_to_analysts(name):
    assert analyst_may_read(name, restricted_models())


def test_estimated_window_from_two_exports():
    # Early export (ends 2018-03): Jan complete, Feb 2 of 4, Mar 1 of 4 flagged -> 2 months below 0.9.
    rows = []
    for month, n_late, n_early in (("2018-01-15", 4, 4), ("2018-02-15", 4, 2), ("2018-03-15", 4, 1)):
        for i in range(n_late):
            case = f"{month}-{i}"
            rows.append((case, "late", month, True, "2023-07-27"))
            rows.append((case, "early", month, i < n_early, "2018-03-31"))
    versions = pd.DataFrame(rows, columns=["case_number", "export_label", "death_date", "is_opioid_related",
                                           "last_death_date"])
    versions["death_date"] = pd.to_datetime(versions["death_date"])
    versions["last_death_date"] = pd.to_datetime(versions["last_death_date"])
    assert estimated_window(versions) == ("late", "early", 2)
    assert estimated_window(versions[versions["export_label"] == "late"]) is None

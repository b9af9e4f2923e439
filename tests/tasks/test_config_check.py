"""``pulse config check`` logic: files and globs under the data dir, the boundary file's fields, the
population and code table columns, and every mapped column in each file's header (header only)."""
from __future__ import annotations

import gzip
import json
import tomllib
from pathlib import Path

import pytest

from schemas.city_config import parse_city_config
from tasks.sources.config_check import check_city_config, csv_header
from tasks.sources.catalog import SOURCE_MODELS

REPO = Path(__file__).resolve().parents[2]
SQUARE = {"type": "Polygon", "coordinates": [[[-90.3, 38.6], [-90.2, 38.6], [-90.2, 38.7], [-90.3, 38.6]]]}


@pytest.fixture
def data(tmp_path: Path) -> Path:
    (tmp_path / "town").mkdir()
    (tmp_path / "town" / "areas.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"AREA_ID": "1", "AREA_NAME": "North"}, "geometry": SQUARE}]}))
    (tmp_path / "town" / "population.csv").write_text("AREA_ID,POP\n1,100\n")
    with gzip.open(tmp_path / "town" / "crimes_2020.csv.gz", "wt", encoding="utf-8") as fh:
        fh.write("\ufeffCase,When,Code,Street\nA1,2020-01-01,1800,Main\n")
    with gzip.open(tmp_path / "town" / "crimes_2021.csv.gz", "wt", encoding="utf-8") as fh:
        fh.write("Case,When,Code\nA2,2021-01-01,1800\n")  # no Street in this year
    return tmp_path


def config(**changes) -> dict:
    doc = {
        "city": {"name": "Town", "slug": "town", "timezone": "America/Chicago", "bbox": [-91, 38, -90, 39],
                 "projected_crs": "EPSG:3857"},
        "neighborhoods": {"file": "town/areas.geojson", "id_field": "AREA_ID", "name_field": "AREA_NAME",
                          "population_file": "town/population.csv", "population_id_field": "AREA_ID",
                          "population_field": "POP"},
        "sources": {"police_town": {"adapter": "mapped", "files": ["town/crimes_*.csv.gz"], "incident_key": "Case",
                                    "columns": {"occurred_at": "When", "iucr": "Code", "block": "Street"}}},
    }
    for path, value in changes.items():
        *parents, key = path.split(".")
        table = doc
        for p in parents:
            table = table[p]
        table[key] = value
    return doc


def check(doc: dict, data_dir: Path) -> list[str]:
    return [str(line) for line in check_city_config(parse_city_config(doc, Path("town.toml"), SOURCE_MODELS),
                                                    data_dir)]


def test_a_good_config_gives_one_ok_line_per_table_and_notes_a_column_some_files_lack(data):
    lines = check(config(), data)
    assert len(lines) == 2 and all(line.startswith("ok") for line in lines), lines
    assert "[neighborhoods] town/areas.geojson: 1 areas" in lines[0]
    assert "[sources.police_town] 2 file(s)" in lines[1]
    assert "columns.block = 'Street' is in no header of 1 file(s)" in lines[1]


def test_a_glob_or_file_matching_nothing_names_the_key(data):
    lines = check(config(**{"sources.police_town.files": ["town/crimes_*.csv.gz", "town/missing.csv"]}), data)
    assert lines[1].startswith("problem  [sources.police_town] files entry 'town/missing.csv': matches no file")
    assert "Check the path and PULSE_DATA_DIR" in lines[1]


def test_boundary_fields_and_population_columns_are_checked(data):
    lines = check(config(**{"neighborhoods.id_field": "AREA_Id", "neighborhoods.population_field": "POPS"}),
                  data)
    assert lines[0] == ("problem  [neighborhoods] id_field = 'AREA_Id': no such field in town/areas.geojson "
                        "(found 'AREA_ID' instead). Set id_field to one of its fields")
    assert lines[1].startswith("problem  [neighborhoods] population_field = 'POPS': column not in the header "
                               "of population.csv (found 'POP' instead)")


def test_a_required_column_missing_from_any_file_is_a_problem_naming_the_key(data):
    lines = check(config(**{"sources.police_town.columns": {"occurred_at": "Date", "iucr": "Code"}}), data)
    assert lines[1] == ("problem  [sources.police_town] columns.occurred_at = 'Date': column not in the header of "
                        "crimes_2020.csv.gz and 1 more (2 of 2 files; found Case, Code, Street, When). Fix the "
                        "name, or add a layout whose rename maps that file's column")


def test_an_optional_column_in_no_file_is_a_problem(data):
    lines = check(config(**{"sources.police_town.columns.district": "District"}), data)
    assert any(line.startswith("problem  [sources.police_town] columns.district = 'District'") for line in lines)


def test_layout_renames_apply_before_the_check(data):
    layouts = [{"name": "old", "when_columns": ["Case"], "rename": {"When": "Occurred"}}]
    doc = config(**{"sources.police_town.layouts": layouts,
                    "sources.police_town.columns": {"occurred_at": "Occurred", "iucr": "Code"}})
    assert all(line.startswith("ok") for line in check(doc, data))
    doc["sources"]["police_town"]["layouts"] = [{"name": "other", "when_columns": ["Nothing"]}]
    assert any("layouts: the header of crimes_2020.csv.gz matches no layout" in line for line in check(doc, data))


def test_the_header_is_read_without_the_bom(data):
    assert csv_header(data / "town" / "crimes_2020.csv.gz") == ["Case", "When", "Code", "Street"]


@pytest.mark.parametrize("name", ["st_louis.toml", "boston.toml", "chicago.toml", "chicago_generic.toml"])
def test_every_shipped_config_checks_ok_on_the_real_data(name, data_dir):
    with open(REPO / "config" / name, "rb") as fh:
        doc = tomllib.load(fh)
    lines = check(doc, data_dir)
    assert all(line.startswith("ok") for line in lines), lines


def test_unreadable_inputs_are_one_line_each(data):
    (data / "town" / "areas.geojson").write_text("not a boundary file")
    (data / "town" / "population.csv").write_bytes(b"")
    (data / "town" / "crimes_2021.csv.gz").write_bytes(b"\x1f\x8b truncated")
    lines = check(config(), data)
    assert lines[0].startswith("problem  [neighborhoods] file 'town/areas.geojson': cannot be read as a boundary file")
    assert lines[1] == ("problem  [neighborhoods] population_file population.csv: the file is empty or has no "
                        "header line. Re-export it as a CSV with a header row")
    assert lines[2] == ("problem  [sources.police_town] files: crimes_2021.csv.gz: cannot read the file (Unknown "
                        "compression method). Re-download it; a .gz file may be truncated")


def test_a_bbox_that_misses_the_boundary_file_is_a_problem(data):
    lines = check(config(**{"city.bbox": [38, -91, 39, -90]}), data)  # latitude and longitude swapped
    assert lines[0] == ("problem  [city] bbox = [38.0, -91.0, 39.0, -90.0]: does not contain the boundary file's "
                        "extent [-90.30, 38.60, -90.20, 38.70], so points there would be quarantined. Set bbox to "
                        "lon_min, lat_min, lon_max, lat_max covering it")

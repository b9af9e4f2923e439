"""``pulse geocode`` and the treatment commands' registration, through Typer's test runner."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from flows.cli.main import app as pulse_app
from tasks.geocode.csv_file import GEOCODE_OUTPUT_COLUMNS

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "treatment"


@pytest.fixture(scope="module")
def app():
    return pulse_app


@pytest.fixture
def runner(data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("PULSE_DATA_DIR", str(data_dir))
    monkeypatch.setenv("PULSE_WORK_DIR", str(tmp_path / "work"))
    return CliRunner()


def test_commands_join_existing_groups(app):
    groups = {g.name: g.typer_instance for g in app.registered_groups}
    assert list(groups).count("ingest") == 1
    assert {c.name for c in groups["ingest"].registered_commands} == {"police", "treatment", "teds", "facilities",
                                                                      "programs", "arrests"}
    assert [c.name for c in groups["demo-data"].registered_commands] == ["treatment", "programs", "arrests"]
    assert "geocode" in {c.name for c in app.registered_commands}


def test_geocode_adds_location_columns(app, runner, tmp_path):
    out = tmp_path / "out" / "geocoded.csv"
    result = runner.invoke(app, ["geocode", str(FIXTURES / "addresses.csv"), "--address-column", "Street Address",
                                 "--zip-column", "Zip", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "Wrote 6 rows" in result.stdout
    got = pd.read_csv(out, dtype="str")
    source = pd.read_csv(FIXTURES / "addresses.csv", dtype="str")
    assert list(got.columns) == [*source.columns, *GEOCODE_OUTPUT_COLUMNS]
    assert got["site_id"].tolist() == source["site_id"].tolist()
    by_id = got.set_index("site_id")
    assert by_id["geocode_method"].to_dict() == {
        "S1": "address_grid", "S2": "intersection", "S3": "address_grid", "S4": "zip_area_share",
        "S5": "unmatched", "S6": "unmatched"}
    assert by_id.loc["S1", ["neighborhood_id", "neighborhood_name"]].tolist() == ["29", "NORTH LAWNDALE"]
    assert by_id.loc[["S1", "S2", "S3"], "latitude"].notna().all()
    assert by_id.loc[["S4", "S5", "S6"], "latitude"].isna().all()  # ZIP-only rows get an area, not a point
    assert by_id.loc["S3", "geocode_precision"] == "block"


def test_geocode_without_zip_column(app, runner, tmp_path):
    out = tmp_path / "geocoded.csv"
    result = runner.invoke(app, ["geocode", str(FIXTURES / "addresses.csv"), "--address-column", "Street Address",
                                 "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert pd.read_csv(out, dtype="str").set_index("site_id").loc["S4", "geocode_method"] == "unmatched"


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("make_input, address_column, expected", [
    (lambda d: FIXTURES / "addresses.csv", "Street Adress", "column 'Street Adress' is missing"),
    (lambda d: FIXTURES / "addresses_cp1252.csv", "Street Address", "not UTF-8"),
    (lambda d: _write(d / "empty.csv", b""), "Street Address", "file is empty"),
    (lambda d: _write(d / "header.csv", b"site_id,Street Address\n"), "Street Address", "no data rows"),
    (lambda d: d / "missing.csv", "Street Address", "file not found"),
], ids=["misspelled-column", "non-utf8", "empty", "header-only", "no-such-file"])
def test_bad_input_is_one_line_error(app, runner, tmp_path, make_input, address_column, expected):
    out = tmp_path / "out.csv"
    result = runner.invoke(app, ["geocode", str(make_input(tmp_path)), "--address-column", address_column,
                                 "-o", str(out)])
    assert result.exit_code == 2, result.output
    message = result.stderr.strip()
    assert "\n" not in message and expected in message, message
    assert not out.exists()


def test_misspelled_column_suggests_the_close_one(app, runner, tmp_path):
    result = runner.invoke(app, ["geocode", str(FIXTURES / "addresses.csv"), "--address-column", "Street Adress",
                                 "-o", str(tmp_path / "o.csv")])
    assert "found 'Street Address' instead" in result.stderr


def test_demo_data_treatment_writes_a_labelled_synthetic_export(app, runner, tmp_path):
    out = tmp_path / "demo" / "adm.csv"
    result = runner.invoke(app, ["demo-data", "treatment", "--rows", "60", "--seed", "3", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "SYNTHETIC" in result.stdout
    export = pd.read_csv(out, dtype="str")
    assert len(export) == 60 and export["SYNTHETIC"].eq("Y").all()
    assert (tmp_path / "demo" / "adm.meta.json").exists() and (tmp_path / "demo" / "adm.defects.csv").exists()

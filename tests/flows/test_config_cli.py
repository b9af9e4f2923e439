"""``pulse config check`` / ``pulse config keys``, a relative PULSE_CITY_CONFIG, and one-line errors that keep
bracketed table names."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from flows.cli.console import fail
from flows.cli.main import app
from flows.settings import Settings

REPO = Path(__file__).resolve().parents[2]


def test_config_check_prints_one_ok_line_per_table_and_exits_0(data_dir):
    result = CliRunner().invoke(app, ["config", "check", "--city-config", str(REPO / "config" / "boston.toml")],
                                env={"PULSE_DATA_DIR": str(data_dir)})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("ok  [neighborhoods] boston/neighborhoods_2020_tract_based.geojson: 23 areas")
    assert lines[1].startswith("ok  [sources.police_boston] 2 file(s)")
    assert lines[-1].endswith(f"ok (data dir {data_dir})")


def test_config_check_names_each_problem_and_exits_1(tmp_path, data_dir):
    text = (REPO / "config" / "boston.toml").read_text()
    bad = tmp_path / "boston.toml"
    bad.write_text(text.replace('id_field = "GEOID"', 'id_field = "GEO_ID"')
                   .replace('block = "STREET"', 'block = "STREETNAME"'))
    result = CliRunner().invoke(app, ["config", "check", "--city-config", str(bad)],
                                env={"PULSE_DATA_DIR": str(data_dir)})
    assert result.exit_code == 1
    problems = [line for line in result.output.splitlines() if line.startswith("problem")]
    assert problems == [
        "problem  [neighborhoods] id_field = 'GEO_ID': no such field in boston/neighborhoods_2020_tract_based.geojson "
        "(found 'GEOID' instead). Set id_field to one of its fields",
        "problem  [sources.police_boston] columns.block = 'STREETNAME': column not in the header of "
        "drug_violations_2015-06_to_2019-11.csv.gz and 1 more (2 of 2 files; found 'STREET' instead). Fix the name, "
        "or add a layout whose rename maps that file's column",
    ]
    assert result.output.splitlines()[-1] == f"{bad}: 2 problem(s)"


def test_config_check_of_a_file_that_does_not_parse_is_one_line_and_exit_1(tmp_path, capsys):
    bad = tmp_path / "city.toml"
    bad.write_text((REPO / "config" / "boston.toml").read_text().replace("[sources.police_boston.columns]",
                                                                         "[sources.police_boston.colums]"))
    result = CliRunner().invoke(app, ["config", "check", "--city-config", str(bad)])
    assert result.exit_code == 1
    assert f"{bad} [sources.police_boston]: unknown key 'colums'" in result.output.replace("\n", "")


def test_config_keys_lists_every_table_with_type_and_default():
    result = CliRunner().invoke(app, ["config", "keys"])
    assert result.exit_code == 0
    assert "[neighborhoods]" in result.output and '[sources.<slug>] adapter = "mapped"' in result.output
    assert "  label  (text; default \"neighborhood\")  What the city calls its areas" in result.output
    markdown = CliRunner().invoke(app, ["config", "keys", "--markdown"])
    assert markdown.output == (REPO / "docs" / "configuration.md").read_text()


def test_a_relative_city_config_resolves_against_the_working_directory(tmp_path, monkeypatch):
    (tmp_path / "cfg").mkdir()
    shutil.copy(REPO / "config" / "boston.toml", tmp_path / "cfg" / "town.toml")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PULSE_CITY_CONFIG", "cfg/town.toml")
    settings = Settings()
    assert settings.city_config == tmp_path / "cfg" / "town.toml"
    monkeypatch.chdir(REPO)  # later changes of directory do not move it
    assert settings.city.city.name == "Boston"
    assert Settings(city_config=Path("/abs/x.toml")).city_config == Path("/abs/x.toml")


def test_fail_prints_bracketed_table_names_intact(capsys):
    with pytest.raises(typer.Exit) as exit_info:
        fail("config/x.toml: has no [sources.police_x] table. Add one, or pick a configured source: "
             "police_chicago [bold]")
    assert exit_info.value.exit_code == 2
    err = capsys.readouterr().err
    assert "has no [sources.police_x] table" in err and "police_chicago [bold]" in err
    assert os.linesep.join(err.splitlines()).startswith("error: config/x.toml")


def test_config_commands_start_no_prefect_server():
    from flows.cli.entry import needs_api

    assert not needs_api(["config", "check"]) and not needs_api(["config", "keys", "--markdown"])

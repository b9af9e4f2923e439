"""The dbt project's layout and the pipeline's contract with it: folders, ymls, vars, profile env, artifacts."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import yaml

from schemas.errors import ConfigError
from schemas.incidents import GEOCODE_METHODS, GEOCODE_PRECISIONS, OFFENSE_CATEGORIES
from schemas.programs import PERIODS, PROGRAM_TYPES
from schemas.teds_codes import CRIMINAL_JUSTICE_REFERRAL, OPIOID_SUBSTANCE_CODES
from schemas.treatment import ADMISSIONS, FACILITY_SOURCES
from warehouse.dbt_project import (MODELS_DIR, PROJECT_DIR, analyst_models, dbt_args, dbt_environment, dbt_paths,
                                   dbt_target, dbt_vars, restricted_models, selection_args)
from warehouse.dbt_results import failed_relations, failure_line, freshness_results, node_results, summary_table
from warehouse.tables import metadata

LAYER_YML = {"staging": "staging.yml", "intermediate": "intermediate.yml", "marts": "marts.yml"}


def layer_models(folder: str) -> dict[str, dict]:
    spec = yaml.safe_load((MODELS_DIR / folder / LAYER_YML[folder]).read_text())
    return {m["name"]: m for m in spec["models"]}


def all_yml_models() -> dict[str, dict]:
    return {name: m for folder in LAYER_YML for name, m in layer_models(folder).items()}


def declared_tests(entry: dict) -> list:
    return list(entry.get("data_tests", []))


def test_one_model_per_file_each_in_its_layer_folder_and_yml():
    files = {p.stem: p.parent.name for p in MODELS_DIR.rglob("*.sql")}
    assert set(files.values()) == set(LAYER_YML)
    prefixes = {"staging": ("stg_",), "intermediate": ("int_",), "marts": ("dim_", "mart_")}
    assert all(name.startswith(prefixes[folder]) for name, folder in files.items())
    for folder in LAYER_YML:
        assert set(layer_models(folder)) == {n for n, f in files.items() if f == folder}, folder
    assert not set(files) & set(metadata.tables)  # a model never shadows a loaded table
    assert set(restricted_models()) | set(analyst_models()) == set(files)
    assert not set(restricted_models()) & set(analyst_models())


def test_every_model_documents_its_grain_columns_and_tests_its_grain():
    for name, model in all_yml_models().items():
        assert model["description"].startswith("Grain: "), name
        assert model["columns"] and all(c.get("description") for c in model["columns"]), name
        column_tests = {c["name"]: [t if isinstance(t, str) else next(iter(t)) for t in declared_tests(c)]
                        for c in model["columns"]}
        unique_cols = [c for c, ts in column_tests.items() if "unique" in ts and "not_null" in ts]
        grains = [t["unique_grain"]["arguments"]["columns"] for t in declared_tests(model) if "unique_grain" in t]
        assert unique_cols or grains, f"{name}: no unique/not_null or unique_grain test on its grain"
        for grain in grains:
            assert all("not_null" in column_tests[c] for c in grain) or name == "mart_quarantine_reasons", name


def test_every_mart_carries_the_small_cell_test():
    for name, model in layer_models("marts").items():
        assert any("no_small_cells" in t for t in declared_tests(model) if isinstance(t, dict)), name


def accepted(folder: str, model: str, column: str) -> list:
    entry = next(c for c in layer_models(folder)[model]["columns"] if c["name"] == column)
    return next(t["accepted_values"]["arguments"]["values"] for t in declared_tests(entry)
                if isinstance(t, dict) and "accepted_values" in t)


def test_coded_columns_accept_exactly_the_schema_codes():
    assert accepted("staging", "stg_police__incidents", "offense_category") == list(OFFENSE_CATEGORIES)
    assert accepted("marts", "dim_offense_types", "offense_category") == list(OFFENSE_CATEGORIES)
    assert accepted("staging", "stg_codes__iucr_codes", "offense_category") == list(OFFENSE_CATEGORIES)
    assert accepted("staging", "stg_police__incidents", "geocode_method") == list(GEOCODE_METHODS)
    assert accepted("staging", "stg_police__incidents", "geocode_precision") == list(GEOCODE_PRECISIONS)
    assert accepted("staging", "stg_programs__programs", "program_type") == list(PROGRAM_TYPES)
    assert accepted("staging", "stg_programs__sessions", "period") == list(PERIODS)
    assert accepted("staging", "stg_facilities", "source") == list(FACILITY_SOURCES)
    teds = {c.name: list(c.allowed) for c in ADMISSIONS.columns if c.allowed}
    for column in ("sex", "route", "frequency", "referral_source", "prior_episodes", "service_setting"):
        assert accepted("staging", "stg_treatment__admissions", column) == teds[column], column


def test_project_vars_match_the_schema_constants():
    project = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text())
    assert project["vars"]["opioid_substance_codes"] == list(OPIOID_SUBSTANCE_CODES)
    assert project["vars"]["criminal_justice_referral"] == CRIMINAL_JUSTICE_REFERRAL
    assert "PULSE_SMALL_CELL_THRESHOLD" in project["vars"]["small_cell_threshold"]
    assert dbt_vars(7) == {"small_cell_threshold": 7, "opioid_substance_codes": list(OPIOID_SUBSTANCE_CODES),
                           "criminal_justice_referral": CRIMINAL_JUSTICE_REFERRAL, "has_code_table": True}
    assert dbt_vars(7, has_code_table=False)["has_code_table"] is False
    assert project["vars"]["has_code_table"] is True
    folders = project["models"]["pulse"]
    assert {k: v["+materialized"] for k, v in folders.items()} == {"staging": "view", "intermediate": "table",
                                                                   "marts": "table"}
    assert project["seed-paths"] == []  # code tables come from the shared data folder, never as seeds


@pytest.mark.parametrize("value", ["10", 0, -1, True, 10.0, "10; DROP TABLE fct_incidents", "1 OR 1=1"],
                         ids=["text", "zero", "negative", "bool", "float", "injection", "or-injection"])
def test_threshold_must_be_a_positive_int(value):
    with pytest.raises(ConfigError, match="PULSE_SMALL_CELL_THRESHOLD"):
        dbt_vars(value)


def test_duckdb_url_gives_the_duckdb_target(tmp_path):
    target = dbt_target(f"duckdb:///{tmp_path / 'w.duckdb'}?memory_limit=1GB")
    assert target.name == "duckdb" and target.duckdb_path == tmp_path / "w.duckdb"
    assert target.env["PULSE_DBT_DUCKDB_PATH"] == str(tmp_path / "w.duckdb")
    assert target.duckdb_config["memory_limit"] == "1GB" == target.env["PULSE_DBT_DUCKDB_MEMORY_LIMIT"]
    assert target.env["PULSE_DBT_DUCKDB_USER_AGENT"].startswith("duckdb_engine/")


def test_postgres_url_gives_the_postgres_target_with_the_password_as_a_dbt_secret():
    target = dbt_target("postgresql+psycopg://etl:s3cret@db.internal:6543/pulse")
    assert target.name == "postgres" and target.duckdb_path is None
    assert {k: v for k, v in target.env.items() if k.startswith("PULSE_DBT_PG_")} == {
        "PULSE_DBT_PG_HOST": "db.internal", "PULSE_DBT_PG_PORT": "6543", "PULSE_DBT_PG_USER": "etl",
        "PULSE_DBT_PG_DBNAME": "pulse", "PULSE_DBT_PG_SCHEMA": "public"}
    assert target.env["DBT_ENV_SECRET_PULSE_PG_PASSWORD"] == "s3cret"  # scrubbed from dbt's logs
    assert "s3cret" not in repr(target)
    profiles = (PROJECT_DIR / "profiles.yml").read_text()
    assert "DBT_ENV_SECRET_PULSE_PG_PASSWORD" in profiles and "s3cret" not in profiles


@pytest.mark.parametrize("url, message", [("mysql://x@h/db", "has no dbt target"), ("duckdb:///:memory:", "DuckDB file"),
                                          ("not a url", "not a valid")])
def test_unsupported_urls_are_one_line_errors(url, message):
    with pytest.raises(ConfigError, match=message):
        dbt_target(url)


def test_environment_is_set_for_the_block_and_restored(tmp_path):
    target = dbt_target(f"duckdb:///{tmp_path / 'w.duckdb'}")
    os.environ.pop("PULSE_DBT_DUCKDB_PATH", None)
    with dbt_environment(target):
        assert os.environ["PULSE_DBT_DUCKDB_PATH"] == str(tmp_path / "w.duckdb")
    assert "PULSE_DBT_DUCKDB_PATH" not in os.environ


def test_args_put_every_artifact_under_the_work_dir(tmp_path):
    paths = dbt_paths(tmp_path / "work")
    args = dbt_args(["build"], paths, dbt_vars(10), selection_args(["marts"], ["dim_dates"], "police"))
    assert args[0] == "build" and args[args.index("--target-path") + 1] == str(tmp_path / "work" / "dbt" / "target")
    assert args[args.index("--log-path") + 1] == str(tmp_path / "work" / "dbt" / "logs")
    assert args[-6:] == ["--select", "marts", "--exclude", "dim_dates", "--selector", "police"]
    assert paths.docs == tmp_path / "work" / "dbt" / "docs" / "index.html"
    selectors = yaml.safe_load((PROJECT_DIR / "selectors.yml").read_text())["selectors"]
    assert {s["name"] for s in selectors} >= {"analyst_facing", "police", "treatment", "programs"}
    assert not any(s.get("default") for s in selectors)


MANIFEST = {
    "nodes": {
        "model.pulse.mart_a": {"name": "mart_a", "resource_type": "model"},
        "test.pulse.not_null_mart_a_x.1": {"name": "not_null_mart_a_x", "resource_type": "test",
                                           "attached_node": "model.pulse.mart_a", "column_name": "x"},
        "test.pulse.source_unique_police_fct_incidents_incident_id.2": {
            "name": "source_unique_police_fct_incidents_incident_id", "resource_type": "test",
            "column_name": "incident_id", "attached_node": None,
            "depends_on": {"nodes": ["source.pulse.geography.dim_neighborhoods", "source.pulse.police.fct_incidents"]},
            "test_metadata": {"name": "unique", "kwargs": {
                "model": "{{ get_where_subquery(source('police', 'fct_incidents')) }}"}}},
    },
    "sources": {"source.pulse.police.fct_incidents": {"name": "fct_incidents", "source_name": "police",
                                                      "resource_type": "source"}},
}


def run_results(*statuses) -> dict:
    ids = ["model.pulse.mart_a", "test.pulse.not_null_mart_a_x.1",
           "test.pulse.source_unique_police_fct_incidents_incident_id.2"]
    return {"results": [{"unique_id": uid, "status": st, "failures": f, "execution_time": 0.5, "message": m,
                         "compiled_code": "select x from mart_a where x is null"}
                        for uid, (st, f, m) in zip(ids, statuses)]}


def test_failure_line_names_the_test_the_model_column_and_the_rows():
    rows = node_results(run_results(("success", None, "OK"), ("fail", 3, "Got 3 results"), ("fail", 1, "Got 1")),
                        MANIFEST)
    assert [r["on"] for r in rows] == [None, "mart_a.x", "police.fct_incidents.incident_id"]
    line = failure_line(rows, {"not_null_mart_a_x": [(None,), (None,)]})
    assert line == ("test not_null_mart_a_x on mart_a.x: 3 failing rows, e.g. (NULL), (NULL) "
                    "(+1 more: source_unique_police_fct_incidents_incident_id)")
    assert failed_relations(rows) == ["fct_incidents", "mart_a"]
    table = summary_table(rows)
    assert table[1] == {"node": "not_null_mart_a_x", "type": "test", "checks": "mart_a.x", "status": "fail",
                        "rows": None, "failures": 3, "seconds": 0.5}


def test_failure_line_for_a_model_error_and_a_clean_run():
    rows = node_results(run_results(("error", None, "Binder Error: column y not found\nLINE 1"),
                                    ("skipped", None, ""), ("pass", 0, "")), MANIFEST)
    assert failure_line(rows) == "model mart_a error: Binder Error: column y not found"
    assert failure_line(node_results(run_results(("success", None, "OK")), MANIFEST)) is None


def test_freshness_rows_name_the_source_and_the_age():
    rows = freshness_results({"results": [{"unique_id": "source.pulse.police.fct_incidents", "status": "warn",
                                           "max_loaded_at_time_ago_in_s": 7200.0, "max_loaded_at": "2026-12-01"}]})
    assert rows == [{"name": "police.fct_incidents", "status": "warn", "age_hours": 2.0,
                     "max_loaded_at": "2026-12-01", "message": ""}]


@pytest.mark.slow
def test_a_mart_without_the_small_cell_test_fails_the_singular_test(tmp_path):
    """analyst_models_are_tested_for_small_cells catches a new mart that forgot no_small_cells."""
    from dbt.cli.main import dbtRunner

    project = tmp_path / "project"
    shutil.copytree(PROJECT_DIR, project, ignore=shutil.ignore_patterns("*.py", "__pycache__", "migrations"))
    marts = project / "models" / "marts" / "marts.yml"
    spec = yaml.safe_load(marts.read_text())
    quality = next(m for m in spec["models"] if m["name"] == "mart_data_quality")
    quality["data_tests"] = [t for t in quality["data_tests"] if "no_small_cells" not in t]
    marts.write_text(yaml.safe_dump(spec, sort_keys=False))
    env = dbt_target(f"duckdb:///{tmp_path / 'w.duckdb'}")
    args = ["build", "--select", "analyst_models_are_tested_for_small_cells", "--project-dir", str(project),
            "--profiles-dir", str(project), "--target-path", str(tmp_path / "target"), "--log-path",
            str(tmp_path / "logs"), "--vars", '{"small_cell_threshold": 10}', "--quiet"]
    with dbt_environment(env):
        result = dbtRunner().invoke(args)
    from warehouse.dbt_project import release_dbt_connections

    release_dbt_connections()
    assert not result.success
    (test,) = result.result.results
    assert test.status == "fail" and test.failures == 1
    assert "mart_data_quality" in Path(tmp_path / "target" / "run_results.json").read_text()

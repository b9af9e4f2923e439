"""Two real second cities end to end on samples, through the flows ``pulse run`` runs (police only in
the config, models built by dbt, trends, report): every row read is loaded or quarantined, counts
match figures computed from the raw files, and the marts carry the city's own area names.

- St. Louis: three monthly files, one per header layout (A: 2013-05, no complaint number; B:
  2013-06; C: 2017-05). Reference: the official tally (sum of ``Count`` over drug codes 18xxxx).
- Boston: the drug file (18,488 offense rows, 14,235 incidents) through ``pulse run`` itself.
Each city takes about 90 s on the project machine (the dbt build dominates): marked slow.
"""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from flows.settings import Settings
from tests.warehouse_sql import q

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
STL_FILES = ["st_louis/slmpd_monthly/2013-05_may2013.csv.gz", "st_louis/slmpd_monthly/2013-06_june2013.csv.gz",
             "st_louis/slmpd_monthly/2017-05_may2017.csv.gz"]
BOSTON_DRUG_FILE = "boston/drug_violations_2015-06_to_2019-11.csv.gz"


def sample_config(name: str, files: list[str], out: Path) -> Path:
    """The shipped config with its police ``files`` list replaced by the sample (nothing else changed)."""
    text = (REPO / "config" / name).read_text()
    start = text.index("files = [")
    end = text.index("]", start) + 1
    out.write_text(text[:start] + "files = " + repr(files).replace("'", '"') + text[end:])
    return out


def read_csv(path: Path) -> pd.DataFrame:
    for encoding in ("utf-8", "cp1252"):
        try:
            return pd.read_csv(path, dtype=str, encoding=encoding, keep_default_na=False)
        except UnicodeDecodeError:
            continue
    raise AssertionError(f"{path} is neither UTF-8 nor cp1252")


def text_of(html: str) -> str:
    html = re.sub(r"<script.*?</script>|<style.*?</style>", " ", html, flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


@pytest.fixture(scope="module")
def st_louis(prefect_harness, data_dir, tmp_path_factory):
    """St. Louis sample: the police feed group, models and trends, as ``pulse run`` runs them."""
    from flows.feeds import run_feed_group
    from flows.models import models_flow
    from flows.trends import trends_flow

    tmp = tmp_path_factory.mktemp("st_louis")
    settings = Settings(data_dir=data_dir, work_dir=tmp / "work",
                        city_config=sample_config("st_louis.toml", STL_FILES, tmp / "st_louis.toml"))
    summaries = run_feed_group(group="police", settings=settings)
    models_flow(settings=settings, node_tasks=False)
    trends_flow(settings=settings)
    return settings, summaries


@pytest.fixture(scope="module")
def boston(prefect_harness, data_dir, tmp_path_factory):
    """Boston's drug file through ``pulse run`` (the CLI command) with a fresh work dir."""
    from flows.cli.main import app

    tmp = tmp_path_factory.mktemp("boston")
    config = sample_config("boston.toml", [BOSTON_DRUG_FILE], tmp / "boston.toml")
    env = {"PULSE_DATA_DIR": str(data_dir), "PULSE_WORK_DIR": str(tmp / "work"), "PULSE_CITY_CONFIG": str(config)}
    result = CliRunner().invoke(app, ["run"], env=env)
    assert result.exit_code == 0, result.output[-3000:]
    return Settings(data_dir=data_dir, work_dir=tmp / "work", city_config=config), result.output


def test_st_louis_every_row_read_is_loaded_or_quarantined(st_louis, data_dir):
    settings, summaries = st_louis
    url = settings.resolved_warehouse_url
    lines = {Path(f).name: len(read_csv(data_dir / f)) for f in STL_FILES}
    assert {Path(s["origin"]).name: s["rows_read"] for s in summaries} == lines  # 4,891, 4,752, 4,548
    for s in summaries:
        assert s["rows_read"] == s["rows_loaded"] + s["rows_quarantined"]
    audit = q(url, "SELECT sum(rows_read), sum(rows_loaded), sum(rows_quarantined) FROM load_audit")[0]
    assert audit == (14_191, 14_190, 1)
    assert q(url, "SELECT reason FROM quarantine_incidents") == [
        ("occurred_at is a declared placeholder date (no date in the source)",)]
    assert q(url, "SELECT count(*) FROM fct_incident_offenses")[0][0] == 14_190  # every loaded offense row


def test_st_louis_drug_incidents_match_the_official_tally(st_louis, data_dir):
    settings, _ = st_louis
    official = 0
    for f in STL_FILES:
        rows = read_csv(data_dir / f)
        official += pd.to_numeric(rows.loc[rows["Crime"].str.strip().str.fullmatch(r"18\d{4}"), "Count"]).sum()
    drug = q(settings.resolved_warehouse_url, "SELECT count(*) FROM fct_incidents WHERE is_drug_offense")[0][0]
    assert official == 586
    assert abs(drug - official) <= 0.03 * official and drug == 586
    mart = q(settings.resolved_warehouse_url, "SELECT sum(n_drug_incidents) FROM mart_neighborhood_month")[0][0]
    placed = q(settings.resolved_warehouse_url,
               "SELECT count(*) FROM fct_incidents WHERE is_drug_offense AND neighborhood_id IS NOT NULL")[0][0]
    assert mart == placed  # the mart counts incidents, not offense rows


def test_st_louis_geocoded_neighborhood_agrees_with_the_source(st_louis):
    settings, _ = st_louis
    both, same = q(settings.resolved_warehouse_url, """
        SELECT count(*), count(*) FILTER (WHERE neighborhood_id = source_area_id) FROM fct_incidents
        WHERE neighborhood_id IS NOT NULL AND source_area_id IS NOT NULL""")[0]
    assert both > 13_000 and same / both >= 0.95


def test_st_louis_marts_use_the_boundary_files_names_and_population(st_louis):
    settings, _ = st_louis
    url = settings.resolved_warehouse_url
    names = dict(q(url, "SELECT DISTINCT neighborhood_id, neighborhood_name FROM mart_neighborhood_month"))
    assert len(names) == 88 and names["43"] == "Franz Park" and names["88"] == "Wilmore Park"
    with_population = q(url, "SELECT count(DISTINCT neighborhood_id) FROM mart_neighborhood_month "
                             "WHERE population IS NOT NULL")[0][0]
    assert with_population == 79  # the 9 parks have no population row: their rates are NULL
    assert q(url, "SELECT population FROM mart_neighborhood_month WHERE neighborhood_id = '43' LIMIT 1") == [(1388,)]
    assert q(url, "SELECT count(*) FROM trend_signals")[0][0] > 0


def test_st_louis_report_names_the_city_and_its_areas(st_louis):
    from flows.report import report_flow

    settings, _ = st_louis
    text = text_of(Path(report_flow(settings=settings)).read_text())
    assert "St. Louis" in text and "Chicago" not in text and "Franz Park" in text
    assert "neighborhood" in text and "community area" not in text.lower()


def test_boston_incidents_are_the_distinct_incident_numbers_read(boston, data_dir):
    settings, output = boston
    url = settings.resolved_warehouse_url
    rows = read_csv(data_dir / BOSTON_DRUG_FILE)
    assert len(rows) == 18_488 and rows["INCIDENT_NUMBER"].nunique() == 14_235
    audit = q(url, "SELECT rows_read, rows_loaded, rows_quarantined FROM load_audit")
    assert audit == [(18_488, 18_488, 0)]
    assert q(url, "SELECT count(*), count(DISTINCT incident_id) FROM fct_incidents")[0] == (14_235, 14_235)
    assert q(url, "SELECT count(*) FROM fct_incident_offenses")[0][0] == 18_488  # every offense row kept
    drug_rows = rows["OFFENSE_DESCRIPTION"].str.contains(r"^DRUGS\b|DRUG RELATED ILLNESS", case=False, regex=True)
    expected = rows.loc[drug_rows, "INCIDENT_NUMBER"].nunique()
    assert expected == 13_704
    assert q(url, "SELECT count(*) FROM fct_incidents WHERE is_drug_offense")[0][0] == expected
    assert "18,488" in output  # the run's batch table


def test_boston_marts_and_report_speak_of_boston(boston):
    settings, _ = boston
    url = settings.resolved_warehouse_url
    names = {n for (n,) in q(url, "SELECT DISTINCT neighborhood_name FROM mart_neighborhood_month")}
    assert len(names) == 23 and {"Allston", "Jamaica Plain", "South Boston"} <= names
    assert q(url, "SELECT count(population) FROM mart_neighborhood_month")[0][0] == 0  # no population table
    assert q(url, "SELECT count(drug_incidents_per_10k) FROM mart_neighborhood_month")[0][0] == 0
    text = text_of((settings.reports_dir / "index.html").read_text())
    assert "Boston" in text and "Chicago" not in text and "Jamaica Plain" in text


def test_boston_report_uses_the_configured_area_label(boston):
    settings, _ = boston
    text = text_of((settings.reports_dir / "index.html").read_text())
    assert "neighborhood" in text and "community area" not in text.lower()

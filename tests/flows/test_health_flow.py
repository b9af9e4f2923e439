"""Health feeds end to end through the real flows on a small sample of the real files: both examiner
exports (the later one revising the earlier), the survey downloads and the sentiment scores;
every row loaded or quarantined with its reason, audit rows balancing."""
from __future__ import annotations

import gzip
import re
from pathlib import Path

import pandas as pd
import pytest

from flows.feeds import run_feed_group
from tests.police_files import data_dir_with
from tests.support.dbt import dbt_build
from tests.warehouse_sql import q

REPO = Path(__file__).resolve().parents[2]
ME = "cook_county_overdoses"
HUB = f"{ME}/me_case_archive_opioid_related_2014_to_2023-07.csv.gz"
PORTAL = f"{ME}/me_case_archive_2018-01_to_2018-06_all_cases.csv.gz"
SENTIMENT = "chicago_community_survey/police_sentiment_scores_2017-11_to_2021-07.csv.gz"


def _write(frame: pd.DataFrame, path: Path, bom: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8-sig" if bom else "utf-8", newline="") as fh:
        frame.to_csv(fh, index=False)


def sample_city(tmp_path: Path, data_dir: Path) -> tuple[Path, Path, dict]:
    """A data folder with sample exports under ``sample/`` and the Chicago config pointed at them.

    Portal: every case of 2018-05-01..05-10 (all manners). Hub: the opioid cases of that span (some
    flagged only here: the flag filled in later) plus a few 2015 cases. Sentiment: district rows of
    2019 with two exact duplicates added.
    """
    root = data_dir_with(tmp_path, data_dir, {})
    portal = pd.read_csv(data_dir / PORTAL, dtype=str, keep_default_na=False)
    day = pd.to_datetime(portal["Date of Death"], format="%m/%d/%Y %I:%M:%S %p")
    portal = portal[(day >= "2018-05-01") & (day < "2018-05-11")]
    hub = pd.read_csv(data_dir / HUB, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    hub = pd.concat([hub[hub["CASENUMBER"].isin(portal["Case Number"])],
                     hub[hub["CASENUMBER"].str.startswith("ME2015-0")].head(20)])
    sent = pd.read_csv(data_dir / SENTIMENT, dtype=str, keep_default_na=False)
    sent = sent[(sent["SECTOR"] == "") & (sent["DISTRICT"] != "") & sent["START_DATE"].str.endswith("2019")]
    sent = pd.concat([sent, sent.head(2)])
    _write(portal, root / "sample/portal.csv.gz")
    _write(hub, root / "sample/hub.csv.gz", bom=True)
    _write(sent, root / "sample/sentiment.csv.gz")
    config = (REPO / "config" / "chicago.toml").read_text()
    config = config.replace(f'"{PORTAL}"', '"sample/portal.csv.gz"').replace(f'"{HUB}"', '"sample/hub.csv.gz"')
    config = config.replace(f'"{SENTIMENT}"', '"sample/sentiment.csv.gz"')
    assert config.count('"sample/') == 3
    path = tmp_path / "city.toml"
    path.write_text(config)
    expected = {
        "portal": len(portal), "hub": len(hub), "sentiment": len(sent),
        "flag_only_in_hub": int((~portal.set_index("Case Number")["Opioid Related"].eq("true"))
                                .reindex(hub["CASENUMBER"]).fillna(False).sum()),
    }
    return path, root, expected


def test_health_group_loads_every_row_and_the_later_export_revises(prefect_harness, settings_factory, warehouse_url,
                                                                   tmp_path, data_dir):
    config, root, n = sample_city(tmp_path, data_dir)
    settings = settings_factory(warehouse_url, city_config=config, data_dir=root)
    out = run_feed_group("health", settings=settings)

    assert [(s["source"], s["status"]) for s in out] == [
        ("me_portal_2018h1", "loaded"), ("me_hub_2023", "loaded"), ("community_survey", "loaded"),
        ("community_survey", "loaded"), ("community_survey", "loaded"), ("police_sentiment", "loaded")]
    audit = q(warehouse_url, "SELECT source, sum(rows_read), sum(rows_loaded), sum(rows_quarantined), "
                          "sum(rows_inserted), sum(rows_updated) FROM load_audit WHERE status = 'loaded' "
                          "GROUP BY source ORDER BY source")
    assert all(read == loaded + held for _, read, loaded, held, _, _ in audit)
    by_source = {row[0]: row[1:] for row in audit}
    assert by_source["me_portal_2018h1"][0] == n["portal"] and by_source["me_hub_2023"][0] == n["hub"]
    # Every hub case of the span is also in the portal export: an update, never a new death.
    hub_updated = by_source["me_hub_2023"][4]
    assert hub_updated == n["hub"] - 20
    n_cases = q(warehouse_url, "SELECT count(*) FROM fct_medical_examiner_cases")[0][0]
    assert n_cases == by_source["me_portal_2018h1"][1] + 20
    # The revision history: the flag filled in by the later export, both versions kept.
    revised = q(warehouse_url, """
        SELECT count(*) FROM fct_medical_examiner_case_versions o JOIN fct_medical_examiner_case_versions l
          ON o.case_number = l.case_number AND o.export_label = 'portal_all_2018h1'
         AND l.export_label = 'hub_opioid_2023-08'
        WHERE NOT o.is_opioid_related AND l.is_opioid_related""")[0][0]
    assert revised == n["flag_only_in_hub"] > 0
    stored = q(warehouse_url, "SELECT export_label, is_opioid_related FROM fct_medical_examiner_cases c "
                           "WHERE case_number IN (SELECT case_number FROM fct_medical_examiner_case_versions "
                           "WHERE export_label = 'hub_opioid_2023-08')")
    assert {label for label, _ in stored} == {"hub_opioid_2023-08"} and all(flag for _, flag in stored)
    # Sentiment: the two planted exact duplicates are quarantined with the row they repeat.
    reasons = q(warehouse_url, "SELECT reason FROM quarantine_police_sentiment")
    assert sum(bool(re.match(r"exact duplicate of data row \d+", r)) for (r,) in reasons) == 2
    windows = q(warehouse_url, "SELECT export_label, provisional_months, last_death_date FROM ref_death_exports "
                            "ORDER BY export_label")
    assert [(w[0], w[1]) for w in windows] == [("hub_opioid_2023-08", 5), ("portal_all_2018h1", 5)]
    assert q(warehouse_url, "SELECT count(DISTINCT neighborhood_id) FROM dim_police_unit_crosswalk")[0][0] == 77
    # The models build and test on it: the revised deaths and the provisional window reach the marts.
    dbt_build(warehouse_url, tmp_path / "work", threshold=1)
    month = q(warehouse_url, "SELECT sum(n_opioid_deaths), sum(n_opioid_deaths_revised) FROM int_overdose_deaths_month "
                          "WHERE month_start = DATE '2018-05-01'")[0]
    placed = q(warehouse_url, "SELECT count(*) FROM fct_medical_examiner_cases WHERE is_opioid_related "
                           "AND neighborhood_id IS NOT NULL AND death_date BETWEEN DATE '2018-05-01' AND DATE '2018-05-31'")
    assert month[0] == placed[0][0] > 0 and 0 < month[1] <= month[0]
    window = q(warehouse_url, "SELECT window_export_label, provisional_from FROM int_overdose_window")
    assert window == [("hub_opioid_2023-08", pd.Timestamp("2018-01-01").date())]
    voice = q(warehouse_url, "SELECT source, unit_level, count(DISTINCT neighborhood_id) FROM mart_community_voice "
                          "WHERE indicator_code IN ('HCSNSP', 'CPD_SAFETY') GROUP BY source, unit_level ORDER BY 1, 2")
    assert voice == [("healthy_chicago_survey", "community_area", 77), ("police_sentiment", "district", 77)]
    # The reads the trends flow and the report use: counts per area and day, the span, the panels.
    check_reads(warehouse_url, settings, month[0])
    # A rerun skips every batch already loaded.
    again = run_feed_group("health", settings=settings)
    assert {s["status"] for s in again} == {"skipped"}


def check_reads(url: str, settings, deaths_in_may_2018: int) -> None:
    from warehouse.health_reads import read_community_voice, read_overdose_months
    from warehouse.reads import read_overdose_deaths_daily, read_overdose_span
    from warehouse.resource import Warehouse

    wh = Warehouse(url)
    try:
        daily = read_overdose_deaths_daily(wh)
        assert list(daily.columns) == ["neighborhood_id", "day", "value"] and daily["neighborhood_id"].notna().all()
        may = daily[(daily["day"] >= "2018-05-01") & (daily["day"] < "2018-06-01")]
        assert may["value"].sum() == deaths_in_may_2018
        span = read_overdose_span(wh)
        assert span.provisional_from == pd.Timestamp("2018-01-01") and span.first_day <= span.last_day <= pd.Timestamp("2018-05-10")
        months, span2 = read_overdose_months(wh)
        assert months.loc[months["month_start"] == "2018-05-01", "n_deaths"].sum() == deaths_in_may_2018
        voice = read_community_voice(wh)
        assert set(voice["indicator_code"]) == {"HCSNSP", "HCSTLEP"}  # sample sentiment has no sector rows
        assert set(voice.loc[voice["indicator_code"] == "HCSNSP", "period_label"]) == {"2022-2023"}
        assert voice.groupby("indicator_code")["neighborhood_id"].nunique().to_dict() == {"HCSNSP": 77, "HCSTLEP": 77}
    finally:
        wh.close()

"""The trends and report flows on a small hand-made warehouse, on DuckDB and PostgreSQL."""
from __future__ import annotations

import json

import pandas as pd
import pytest
import sqlalchemy as sa

from flows.police_incidents import police_incidents_flow
from flows.report import report_flow
from flows.trends import trends_flow
from tests.police_files import real_rows, write_csv
from tests.trend_warehouse import (CLUSTER, LAST_DAY, PROGRAM_AREA, PROGRAM_START, SMALL_ADMISSIONS_AREA, SPIKE_AREA,
                                   SPIKE_DAY, build_trend_warehouse)
from warehouse.resource import Warehouse


def table(url: str, name: str) -> pd.DataFrame:
    engine = Warehouse(url)
    try:
        with engine.connect() as conn:
            frame = pd.read_sql(sa.text(f'SELECT * FROM "{name}"'), conn)
    finally:
        engine.close()
    for col in ("period_start", "period_end", "started_on", "start_period", "end_period", "peak_period"):
        if col in frame:
            frame[col] = pd.to_datetime(frame[col])
    return frame


def comparable(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """The table without the run timestamp, in a stable order (floats rounded against driver noise)."""
    out = frame.drop(columns="computed_at").sort_values(keys, na_position="first").reset_index(drop=True)
    for col in out.select_dtypes("float").columns:
        out[col] = out[col].round(9)
    return out.astype(object).where(out.notna(), None)


def artifact_keys() -> set[str]:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return {a.key for a in client.read_artifacts() if a.key}


@pytest.fixture
def trend_settings(settings_factory, warehouse_url):
    settings = settings_factory(warehouse_url)
    build_trend_warehouse(warehouse_url, settings)
    return settings


def test_trends_flow_writes_signals_and_reruns_identically(prefect_harness, trend_settings, warehouse_url):
    first = trends_flow(settings=trend_settings)
    signals, impact = table(warehouse_url, "trend_signals"), table(warehouse_url, "program_impact")
    episodes = table(warehouse_url, "alert_episodes")
    assert first["written"] == {"trend_signals": len(signals), "program_impact": len(impact),
                                "alert_episodes": len(episodes)}
    assert first["skipped"] == {}

    # Partial periods are dropped: the data end on Thursday 2018-06-14.
    assert signals["period_end"].max() <= LAST_DAY
    ends = signals.groupby("grain")["period_end"].max()
    assert ends["month"] == pd.Timestamp("2018-05-31") and ends["week"] <= pd.Timestamp("2018-06-10")

    mk = signals[(signals["method"] == "seasonal_mann_kendall") & (signals["metric"] == "drug_incidents")]
    assert len(mk) == 78  # 77 community areas + citywide
    city = mk[mk["neighborhood_id"].isna()].iloc[0]
    assert city["level"] == "decreasing" and city["score"] < 0
    assert set(mk.loc[mk["neighborhood_id"].isin(CLUSTER), "level"]) == {"decreasing"}

    spike = signals[(signals["neighborhood_id"] == SPIKE_AREA) & (signals["grain"] == "day")
                    & (signals["period_start"] == SPIKE_DAY)]
    assert {"ears_c1", "ears_c2"} <= set(spike["method"]) and set(spike["level"]) == {"alarm"}
    assert json.loads(spike[spike["method"] == "ears_c1"].iloc[0]["details"])["value"] >= 12

    adm = signals[signals["metric"] == "admissions"]
    assert set(adm["method"]) == {"seasonal_mann_kendall"} and set(adm["neighborhood_id"].dropna()) == set(CLUSTER)
    assert SMALL_ADMISSIONS_AREA not in set(adm["neighborhood_id"])  # 3 admissions: a small cell, no row
    details = [json.loads(d) for d in adm["details"]]
    assert all(d["synthetic"] and "mean_per_period" not in d and "intercept" not in d for d in details)

    hot = signals[signals["method"] == "emerging_hotspot"]
    assert len(hot) == 77
    assert hot.loc[hot["neighborhood_id"].isin(CLUSTER), "level"].str.endswith("hot_spot").all()

    est = impact[impact["program_id"] == "demo-001"].set_index("method")
    # ITS with HAC errors and the single-area DiD were replaced by calibrated methods (issue 14); the
    # headline row is the one the report shows (here "cannot tell": 29 months give only 11 placebos).
    assert set(est.index) == {"comparative_its", "synthetic_control", "staggered_did", "headline"}
    assert (est["neighborhood_id"] == PROGRAM_AREA).all() and (est["started_on"] == PROGRAM_START).all()
    assert est.loc["comparative_its", "n_pre"] == 14 and est.loc["comparative_its", "n_post"] == 15
    skipped = impact[impact["method"] == "not_estimated"].set_index("program_id")["details"].map(json.loads)
    assert "library branch" in skipped["cpl-douglass"]["skipped"]
    assert "not geocoded" in skipped["demo-002"]["skipped"]

    # Every registered method ran; alert episodes merge C1/C2/C3 and consecutive days (issue 14).
    from tasks.trends.registry import methods
    ran = {m.name for m in methods()} - {"synthetic_control", "staggered_did", "comparative_its"}
    episode_methods = set(episodes["method"])
    assert episode_methods <= ran and "ears" in episode_methods
    spike_eps = episodes[(episodes["neighborhood_id"] == SPIKE_AREA) & (episodes["grain"] == "day")
                         & (episodes["start_period"] <= SPIKE_DAY) & (episodes["end_period"] >= SPIKE_DAY)]
    ears_ep = spike_eps[spike_eps["method"] == "ears"]
    assert len(ears_ep) == 1 and {"ears_c1", "ears_c2"} <= set(ears_ep.iloc[0]["detectors"].split(","))
    assert ears_ep.iloc[0]["peak_observed"] >= 12
    n_alarm_rows = int(signals["level"].eq("alarm").sum())
    assert len(episodes) < n_alarm_rows  # episodes, not rows
    assert sum(d["n_episodes"] for d in first["episodes"]) == int(episodes["is_headline"].sum())

    # The spike on 2018-06-12 lies in the last week of data: the headline detector's episode is
    # alerted and sent as one event (an alert per episode, not per row).
    assert spike_eps["is_headline"].any() and spike_eps["is_ongoing"].any()
    assert first["n_alerts"] >= 1 and first["n_events"] == first["n_alerts"]
    assert {"trend-alerts", "trend-summary"} <= artifact_keys()

    second = trends_flow(settings=trend_settings)
    assert second["n_alerts"] == 0 and second["n_events"] == 0
    keys = ["metric", "grain", "method", "neighborhood_id", "period_start"]
    pd.testing.assert_frame_equal(comparable(table(warehouse_url, "trend_signals"), keys), comparable(signals, keys))
    pd.testing.assert_frame_equal(comparable(table(warehouse_url, "program_impact"), ["program_id", "method"]),
                                  comparable(impact, ["program_id", "method"]))
    pd.testing.assert_frame_equal(comparable(table(warehouse_url, "alert_episodes"), ["episode_id"]),
                                  comparable(episodes, ["episode_id"]))


def test_report_flow_writes_one_offline_html_file(prefect_harness, trend_settings, warehouse_url):
    trends_flow(settings=trend_settings)
    path = report_flow(settings=trend_settings)
    assert path == trend_settings.reports_dir / "index.html"
    dated = list(trend_settings.reports_dir.glob("report-*.html"))
    assert len(dated) == 1 and dated[0].read_text(encoding="utf-8") == path.read_text(encoding="utf-8")
    html = path.read_text(encoding="utf-8")
    lower = html.lower()
    assert "<script" not in lower and "<link" not in lower and "@import" not in lower
    assert "http://" not in lower and "https://" not in lower
    assert html.count("<path ") >= 2 * 77
    assert "Austin" in html and "West Garfield Park" in html
    assert "SYNTHETIC" in html and "not estimated: library branch" in html
    assert "pulse-report" in artifact_keys()


def test_short_real_load_skips_what_it_cannot_estimate(prefect_harness, settings_factory, duckdb_url, data_dir,
                                                       tmp_path):
    settings = settings_factory(duckdb_url)
    police_incidents_flow(settings=settings, files=[str(write_csv(real_rows(data_dir, 300, "22"),
                                                                  tmp_path / "jan2016.csv"))])
    out = trends_flow(settings=settings)
    # 300 incidents of one day (2016-01-03): no complete month, too short for any alarm baseline.
    assert {"mann_kendall drug_incidents month", "emerging_hotspot drug_incidents month",
            "ears drug_incidents week", "stp_scan drug_incidents day"} <= set(out["skipped"])
    assert out["skipped"]["emerging_hotspot drug_incidents month"] == "no complete month in the data"
    assert out["written"] == {"trend_signals": 0, "program_impact": 0, "alert_episodes": 0}
    html = report_flow(settings=settings).read_text(encoding="utf-8")
    assert "Community Pulse report" in html and html.count("<path ") >= 2 * 77

"""Alert episodes: one per run of alarm periods of a series, metric, grain and method."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd

from tasks.trends.episodes import EPISODE_COLUMNS, alert_episodes, count_decisions

T = pd.Timestamp


def row(nid, method, day, score=1.0, value=5.0, expected=2.0, grain="day", level="alarm", p=np.nan, **extra):
    key = "baseline_mean" if method.startswith("ears") else "expected"
    end = T(day) + (pd.Timedelta(days=6) if grain == "week" else pd.Timedelta(0))
    return {"neighborhood_id": nid, "metric": "drug_incidents", "period_start": T(day), "period_end": end,
            "method": method, "statistic": score + 3, "p_value": p, "score": score, "level": level,
            "details": json.dumps({"value": value, key: expected, **extra}), "grain": grain}


def test_ears_rules_on_the_same_days_are_one_episode():
    signals = pd.DataFrame([
        row("8", "ears_c1", "2018-03-01", 2.0, 9, 3), row("8", "ears_c2", "2018-03-01", 1.0, 9, 4),
        row("8", "ears_c3", "2018-03-02", 0.5, 7, 3), row("8", "ears_c3", "2018-03-04", 0.4, 6, 3),  # 1-day gap
        row("8", "ears_c1", "2018-03-08", 1.0, 6, 2),  # 3 quiet days: a new episode
        row("8", "ears_c1", "2018-03-09", 1.0, 6, 2, level="none"),  # not an alarm
        row(None, "ears_c2", "2018-03-01", 1.0, 50, 30),
    ])
    ep = alert_episodes(signals)
    assert list(ep.columns) == EPISODE_COLUMNS
    assert len(ep) == 3
    first = ep[(ep["neighborhood_id"] == "8")].iloc[0]
    assert first["detectors"] == "ears_c1,ears_c2,ears_c3"
    assert (first["start_period"], first["end_period"]) == (T("2018-03-01"), T("2018-03-04"))
    assert first["n_periods"] == 3
    assert first["observed"] == 9 + 7 + 6 and first["expected"] == 3 + 3 + 3  # C1 (score 2) speaks for day 1
    assert first["peak_period"] == T("2018-03-01") and first["peak_observed"] == 9
    assert first["method"] == "ears" and first["kind"] == "spike" and not first["is_headline"]
    assert first["episode_id"] == "ears|drug_incidents|day|8|2018-03-01"
    city = ep[ep["neighborhood_id"].isna()].iloc[0]
    assert city["area_ids"] == "" and city["episode_id"].endswith("|citywide|2018-03-01")


def test_methods_are_separate_decisions_and_weeks_must_touch():
    signals = pd.DataFrame([
        row("8", "glm_cusum", "2018-03-01"), row("8", "glm_spike", "2018-03-02", p=0.001),
        row("8", "ears_c1", "2018-03-01"),
        row("8", "glm_cusum", "2018-02-05", grain="week"), row("8", "glm_cusum", "2018-02-19", grain="week"),
        row("R:1+2", "glm_pooled_cusum", "2018-03-01", area_ids=["1", "2"]),
    ])
    ep = alert_episodes(signals, last_day=T("2018-03-03"))
    assert sorted(zip(ep["method"], ep["grain"])) == [
        ("ears", "day"), ("glm_baseline", "day"), ("glm_baseline", "week"), ("glm_baseline", "week"),
        ("glm_pooled", "day")]
    glm = ep[(ep["method"] == "glm_baseline") & (ep["grain"] == "day")].iloc[0]
    assert glm["detectors"] == "glm_cusum,glm_spike" and glm["min_p_value"] == 0.001 and glm["is_headline"]
    assert glm["is_ongoing"]  # ends 2018-03-02, within 2 days of the last day
    assert ep.loc[ep["method"] == "glm_pooled", "area_ids"].iloc[0] == "1,2"
    counts = count_decisions(ep)
    assert counts.set_index("grain")["n_episodes"].to_dict() == {"day": 2, "week": 2}


def test_no_alarms_give_an_empty_frame_with_the_columns():
    signals = pd.DataFrame([row("8", "ears_c1", "2018-03-01", level="none"),
                            row(None, "seasonal_mann_kendall", "2015-01-01", level="increasing")])
    ep = alert_episodes(signals)
    assert ep.empty and list(ep.columns) == EPISODE_COLUMNS

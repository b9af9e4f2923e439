"""Tests for the pure preparation in tasks.trends.prepare and the flow steps: periods, programs, metrics, alerts."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tasks.trends.prepare import METRICS, Metric, Span, complete_range, period_series, split_programs, trend_inputs
from tasks.trends import steps

T = pd.Timestamp
REAL = Span(T("2015-01-01"), T("2018-11-12"))  # Thursday .. Monday


@pytest.mark.parametrize("span, grain, expected", [
    (REAL, "day", (T("2015-01-01"), T("2018-11-12"))),
    (REAL, "week", (T("2015-01-05"), T("2018-11-05"))),
    (REAL, "month", (T("2015-01-01"), T("2018-10-01"))),
    (Span(T("2016-02-01"), T("2016-02-29")), "month", (T("2016-02-01"), T("2016-02-01"))),
    (Span(T("2016-01-04"), T("2016-01-10")), "week", (T("2016-01-04"), T("2016-01-04"))),
    (Span(T("2016-01-05"), T("2016-01-10")), "week", None),
], ids=["real-day", "real-week", "real-month", "exact-leap-month", "exact-week", "no-full-week"])
def test_complete_range_drops_partial_periods(span, grain, expected):
    assert complete_range(span, grain) == expected


def daily(rows):
    return pd.DataFrame(rows, columns=["neighborhood_id", "day", "value"]).assign(
        day=lambda f: pd.to_datetime(f["day"]), value=lambda f: f["value"].astype(float))


def test_period_series_fills_zeros_and_counts_ungeocoded_citywide():
    frame = daily([("1", "2016-01-04", 2), ("1", "2016-01-12", 1), (None, "2016-01-05", 4),
                   ("2", "2016-01-03", 9), ("2", "2016-01-18", 5)])  # 01-03 and 01-18 lie in partial weeks
    out = period_series(frame, "week", Span(T("2016-01-03"), T("2016-01-18")), ids=["1", "2", "3"])
    got = {(r.neighborhood_id, f"{r.period_start:%m-%d}"): r.value for r in out.itertuples()}
    assert got == {(None, "01-04"): 6.0, (None, "01-11"): 1.0, ("1", "01-04"): 2.0, ("1", "01-11"): 1.0,
                   ("2", "01-04"): 0.0, ("2", "01-11"): 0.0, ("3", "01-04"): 0.0, ("3", "01-11"): 0.0}
    assert list(out.columns) == ["neighborhood_id", "period_start", "value"]


def test_period_series_without_a_complete_period_is_empty():
    out = period_series(daily([("1", "2016-01-05", 1)]), "month", Span(T("2016-01-05"), T("2016-01-20")))
    assert out.empty and list(out.columns) == ["neighborhood_id", "period_start", "value"]


def test_split_programs_keeps_estimable_and_says_why_for_the_rest():
    programs = pd.DataFrame({
        "program_id": ["demo-1", "cpl-a", "demo-2", "demo-3", "demo-4"],
        "program_type": ["outreach", "library", "outreach", "outreach", "diversion"],
        "neighborhood_id": ["25", "25", None, "26", "27"],
        "started_on": pd.to_datetime(["2016-05-02", "2019-01-01", "2016-05-02", "2014-06-02", "2018-10-29"]),
    })
    eligible, skipped = split_programs(programs, T("2015-01-01"), T("2018-10-01"), "drug_incidents")
    assert eligible["program_id"].tolist() == ["demo-1", "demo-4"]  # a start in the last month is the model's call
    reasons = dict(zip(skipped["program_id"], skipped["details"].map(lambda d: json.loads(d)["skipped"])))
    assert reasons["cpl-a"].startswith("library branch")
    assert reasons["demo-2"] == "program site has no neighborhood (not geocoded)"
    assert reasons["demo-3"] == "start month outside the incident series 2015-01..2018-10"
    assert set(skipped["method"]) == {"not_estimated"} and skipped["estimate"].isna().all()


def signal(nid, method, level, start, end, grain="day"):
    return {"neighborhood_id": nid, "metric": "drug_incidents", "period_start": T(start), "period_end": T(end),
            "method": method, "statistic": 4.0, "p_value": np.nan, "score": 1.0, "level": level, "details": "{}",
            "grain": grain}


def test_alerts_are_new_recent_headline_episodes_once():
    signals = pd.DataFrame([
        # C1 and C2 on the same day and the next day's C1: one EARS episode (a reference, no alert).
        signal("8", "ears_c1", "alarm", "2018-11-11", "2018-11-11"),
        signal("8", "ears_c2", "alarm", "2018-11-11", "2018-11-11"),
        signal("8", "ears_c1", "alarm", "2018-11-12", "2018-11-12"),
        # The headline detector: spike + CUSUM on consecutive days are one alert episode.
        signal("8", "glm_spike", "alarm", "2018-11-10", "2018-11-10"),
        signal("8", "glm_cusum", "alarm", "2018-11-11", "2018-11-11"),
        signal("9", "glm_spike", "alarm", "2018-10-01", "2018-10-01"),  # old news
        signal(None, "glm_spike", "alarm", "2018-10-29", "2018-11-04", grain="week"),  # the last complete week
        signal(None, "seasonal_mann_kendall", "decreasing", "2015-01-01", "2018-10-31", grain="month"),
    ])
    last = {"drug_incidents": {"day": T("2018-11-12"), "week": T("2018-11-04"), "month": T("2018-10-31")}}
    eps = steps.episode_rows(signals, last, T("2026-01-01"))
    assert len(eps) == 4 and set(eps.loc[eps["method"] == "ears", "detectors"]) == {"ears_c1,ears_c2"}
    glm8 = eps[(eps["method"] == "glm_baseline") & (eps["neighborhood_id"] == "8")].iloc[0]
    assert glm8["detectors"] == "glm_cusum,glm_spike" and glm8["n_periods"] == 2 and glm8["is_ongoing"]
    first = steps.new_alerts(eps, set(), last)
    assert sorted(map(str, first["neighborhood_id"])) == ["8", "None"]  # headline, recent; not area 9, not EARS
    records = steps.alert_records(first, {"8": "Douglas"})
    assert {r["place"] for r in records} == {"Douglas", "Citywide"}
    assert steps.new_alerts(eps, set(eps["episode_id"]), last).empty  # a rerun alerts nothing


def test_metrics_are_declarative_and_drug_incidents_first():
    assert METRICS[0] == Metric("drug_incidents", "read_drug_incidents_counts", required=True)
    from warehouse import reads

    assert all(callable(getattr(reads, m.read)) for m in METRICS)
    adm = next(m for m in METRICS if m.name == "admissions")
    assert [name for name, _ in steps.registered(adm)] == ["mann_kendall"]
    everything = {name for name, _ in steps.registered(METRICS[0])}
    from tasks.trends.registry import methods

    assert everything == {m.name for m in methods()}


def test_trend_inputs_series_per_grain_and_programs_split():
    days = pd.date_range("2016-01-01", "2017-12-31", freq="D")
    daily = pd.DataFrame({"neighborhood_id": "1", "day": days, "value": 1})
    hoods = pd.DataFrame({"neighborhood_id": ["1", "2"], "name": ["A", "B"], "population": 1.0,
                          "geometry_wkt": None})
    programs = pd.DataFrame({"program_id": ["p1", "lib"], "name": ["P", "L"], "program_type": ["outreach", "library"],
                             "neighborhood_id": ["1", "2"], "started_on": [T("2016-09-01"), T("2016-09-01")],
                             "is_synthetic": True})
    inputs, skipped = trend_inputs(METRICS[0], daily, Span(days[0], days[-1]), hoods, programs, 10,
                                   {"alarm_budget": 0.5})
    assert set(inputs.series) == {"day", "week", "month"} and inputs.params == {"alarm_budget": 0.5}
    month = inputs.series["month"]
    assert set(month["neighborhood_id"].dropna()) == {"1", "2"} and len(month) == 24 * 3  # citywide + 2 areas
    assert inputs.programs["program_id"].tolist() == ["p1"] and skipped["program_id"].tolist() == ["lib"]


def test_tag_signals_adds_grain_time_and_detail_keys():
    from tasks.trends.prepare import tag_signals

    frame = pd.DataFrame([signal(None, "seasonal_mann_kendall", "increasing", "2015-01-01", "2017-12-31")])
    frame["details"] = json.dumps({"tau": 0.5})
    out = tag_signals(frame.drop(columns="grain"), "month", "2026-01-01 10:00", synthetic=True)
    assert out["grain"].tolist() == ["month"] and out["computed_at"].tolist() == [T("2026-01-01 10:00")]
    assert json.loads(out["details"].iloc[0]) == {"synthetic": True, "tau": 0.5}
    assert json.loads(frame["details"].iloc[0]) == {"tau": 0.5}  # input untouched


def test_drop_small_series_removes_small_cells_but_keeps_zero_and_citywide():
    from tasks.trends.prepare import drop_small_series

    months = pd.date_range("2016-01-01", periods=3, freq="MS")
    rows = [(area, m, v) for area, values in {None: [20, 20, 20], "1": [1, 0, 2], "2": [0, 0, 0], "3": [5, 4, 6]}.items()
            for m, v in zip(months, values)]
    series = pd.DataFrame(rows, columns=["neighborhood_id", "period_start", "value"])
    out = drop_small_series(series, threshold=10)
    assert {v if isinstance(v, str) else None for v in out["neighborhood_id"]} == {None, "2", "3"}
    assert len(series) == 12  # input untouched


def test_run_summary_counts_episodes_not_rows():
    signals = pd.DataFrame([signal("8", "ears_c1", "alarm", "2018-11-11", "2018-11-11"),
                            signal("8", "ears_c2", "alarm", "2018-11-11", "2018-11-11"),
                            signal("8", "ears_c3", "alarm", "2018-11-12", "2018-11-12"),
                            signal("8", "glm_spike", "alarm", "2018-11-11", "2018-11-11"),
                            signal("8", "glm_cusum", "alarm", "2018-11-12", "2018-11-12")])
    last = {"drug_incidents": {"day": T("2018-11-12")}}
    eps = steps.episode_rows(signals, last, T("2026-01-01"))
    empty_impact = pd.DataFrame(columns=["method"])
    text = steps.summary_markdown(eps, empty_impact, 1, {"stp_scan drug_incidents day": "too short"}, False)
    assert "| drug_incidents | day | spike | 1 | 1 |" in text  # 2 glm rows -> 1 decision episode, open
    assert "ears day: 1 episodes" in text  # 3 EARS rows -> 1 reference episode
    assert "New alert episodes this run: 1." in text and "stp_scan drug_incidents day: too short" in text
    assert steps.decision_counts(eps) == [{"metric": "drug_incidents", "grain": "day", "kind": "spike",
                                           "n_episodes": 1}]


def test_trend_inputs_without_a_complete_month_keeps_every_program_with_a_reason():
    days = pd.date_range("2016-01-03", "2016-01-12", freq="D")
    daily = pd.DataFrame({"neighborhood_id": "1", "day": days, "value": 1})
    hoods = pd.DataFrame({"neighborhood_id": ["1"], "name": ["A"], "population": 1.0, "geometry_wkt": None})
    programs = pd.DataFrame({"program_id": ["p1"], "name": ["P"], "program_type": ["outreach"],
                             "neighborhood_id": ["1"], "started_on": [T("2016-01-05")], "is_synthetic": True})
    inputs, skipped = trend_inputs(METRICS[0], daily, Span(days[0], days[-1]), hoods, programs, 10)
    assert inputs.series["month"].empty and inputs.programs.empty
    assert skipped["program_id"].tolist() == ["p1"] and set(skipped["method"]) == {"not_estimated"}
    assert json.loads(skipped["details"].iloc[0])["skipped"] == "no complete month of data"

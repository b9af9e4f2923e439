"""Tests for the EARS and Mann-Kendall methods: EARS C1/C2/C3 arithmetic, the sd floor, Mann-Kendall against pymannkendall."""
from __future__ import annotations

import json
import statistics

import numpy as np
import pandas as pd
import pymannkendall as mk
import pytest

from schemas.errors import InputError
from tasks.trends.methods.ears import ears
from tasks.trends.methods.mann_kendall import mann_kendall_trends
from tasks.trends.series import TREND_SIGNAL_COLUMNS, complete_calendar

DAY0 = pd.Timestamp("2018-01-01")
SHORT = [3, 5, 4, 6, 2, 5, 3, 4, 7, 5, 6, 4, 12, 9, 15]  # 15 days, a spike at the end


def daily(values, area="7", start=DAY0):
    return pd.DataFrame({
        "neighborhood_id": area,
        "period_start": pd.date_range(start, periods=len(values), freq="D"),
        "value": np.asarray(values, dtype=float),
    })


def monthly(values, area="7", start="2015-01-01"):
    return pd.DataFrame({
        "neighborhood_id": area,
        "period_start": pd.date_range(start, periods=len(values), freq="MS"),
        "value": np.asarray(values, dtype=float),
    })


def expected_ears(x, floor=0.0):
    """EARS by the textbook definition, one period at a time with the statistics module."""
    c1, c2 = {}, {}
    for t in range(len(x)):
        for out, lag in ((c1, 1), (c2, 3)):
            base = x[t - lag - 6: t - lag + 1] if t - lag - 6 >= 0 else None
            if base is not None:
                out[t] = (x[t] - statistics.mean(base)) / max(statistics.stdev(base), floor)
    c3 = {t: sum(max(0.0, c2[t - k] - 1) for k in range(3)) for t in c2 if t - 2 in c2}
    return {"ears_c1": c1, "ears_c2": c2, "ears_c3": c3}


def by_day(frame, method):
    rows = frame[(frame["method"] == method) & frame["neighborhood_id"].notna()]
    return {int((d - DAY0).days): v for d, v in zip(rows["period_start"], rows["statistic"])}


@pytest.mark.parametrize("method", ["ears_c1", "ears_c2", "ears_c3"])
def test_ears_statistics_match_the_definition(method):
    got = ears(daily(SHORT), "m", sd_floor=1e-9, poisson_floor=False, alarms_only=False, add_citywide=False)
    want = expected_ears([float(v) for v in SHORT])[method]
    assert sorted(by_day(got, method)) == sorted(want)
    for t, value in want.items():
        assert by_day(got, method)[t] == pytest.approx(value, rel=1e-12)


def test_ears_first_computable_periods_follow_the_baselines():
    got = ears(daily(SHORT), "m", alarms_only=False, add_citywide=False)
    first = got.groupby("method")["period_start"].min()
    assert first.to_dict() == {"ears_c1": DAY0 + pd.Timedelta(days=7), "ears_c2": DAY0 + pd.Timedelta(days=9),
                               "ears_c3": DAY0 + pd.Timedelta(days=11)}


def test_ears_alarms_only_returns_rows_over_threshold():
    got = ears(daily(SHORT), "m", sd_floor=1e-9, poisson_floor=False, add_citywide=False)
    want = expected_ears([float(v) for v in SHORT])
    thresholds = {"ears_c1": 3, "ears_c2": 3, "ears_c3": 2}
    expected = {(m, t) for m, d in want.items() for t, v in d.items() if v > thresholds[m]}
    assert {(m, int((d - DAY0).days)) for m, d in zip(got["method"], got["period_start"])} == expected
    assert expected, "the fixture should alarm somewhere"
    assert set(got["level"]) == {"alarm"}
    assert (got["score"] > 0).all()


def test_ears_details_carry_the_baseline():
    got = ears(daily(SHORT), "m", sd_floor=1e-9, poisson_floor=False, alarms_only=False, add_citywide=False)
    row = got[(got["method"] == "ears_c1") & (got["period_start"] == DAY0 + pd.Timedelta(days=12))].iloc[0]
    d = json.loads(row["details"])
    base = [float(v) for v in SHORT[5:12]]
    assert d["baseline_mean"] == pytest.approx(statistics.mean(base))
    assert d["baseline_sd"] == pytest.approx(statistics.stdev(base))
    assert (d["baseline_start"], d["baseline_end"]) == ("2018-01-06", "2018-01-12")
    assert d["value"] == 12.0


@pytest.mark.parametrize(
    ("floor", "poisson", "alarms"),
    [(1.0, False, False), (1.0, True, False), (1e-6, False, True)],
    ids=["floor-1", "floor-1-and-poisson", "no-floor-alarms"],
)
def test_sd_floor_stops_a_single_event_alarm(floor, poisson, alarms):
    got = ears(daily([0, 0, 0, 0, 0, 0, 0, 1]), "m", sd_floor=floor, poisson_floor=poisson, add_citywide=False)
    assert (len(got) > 0) == alarms


def test_poisson_floor_raises_a_too_small_sample_sd():
    # Baseline mean 16 with sample sd 0.58: with only the absolute floor of 1 the 20 scores
    # C1 = 4 (an alarm); with sqrt(16) = 4 it scores 1.
    values = [16, 16, 17, 16, 15, 16, 16, 20]
    plain = ears(daily(values), "m", poisson_floor=False, alarms_only=False, add_citywide=False)
    floored = ears(daily(values), "m", poisson_floor=True, alarms_only=False, add_citywide=False)
    assert plain.loc[plain["method"] == "ears_c1", "level"].iloc[0] == "alarm"
    assert floored.loc[floored["method"] == "ears_c1", "statistic"].iloc[0] == pytest.approx(1.0)


def test_missing_days_are_zero_counts():
    full = daily(SHORT)
    sparse = full[full["value"] != 5]  # drop three days: they must come back as zeros
    with_zeros = full.assign(value=full["value"].where(full["value"] != 5, 0.0))
    a = ears(sparse, "m", alarms_only=False, add_citywide=False)
    b = ears(with_zeros, "m", alarms_only=False, add_citywide=False)
    pd.testing.assert_frame_equal(a, b)


def test_output_contract_and_citywide_sum():
    frame = pd.concat([daily(SHORT, "1"), daily(SHORT[::-1], "2")], ignore_index=True)
    got = ears(frame, "drug_incidents", alarms_only=False)
    assert list(got.columns) == TREND_SIGNAL_COLUMNS
    assert set(got["neighborhood_id"].map(repr)) == {"'1'", "'2'", "None"}
    city = got[got["neighborhood_id"].isna() & (got["method"] == "ears_c1")]
    summed = [a + b for a, b in zip(SHORT, SHORT[::-1])]
    assert json.loads(city.iloc[0]["details"])["value"] == summed[7]
    assert (got["period_end"] == got["period_start"]).all()


@pytest.mark.parametrize("seasonal", [True, False], ids=["seasonal", "original"])
def test_mann_kendall_equals_pymannkendall(seasonal):
    rng = np.random.default_rng(4)
    values = rng.poisson(40 + 0.5 * np.arange(47) + 8 * np.sin(np.arange(47) * np.pi / 6)).astype(float)
    got = mann_kendall_trends(monthly(values), "m", seasonal=seasonal, add_citywide=False).iloc[0]
    direct = mk.seasonal_test(values, period=12) if seasonal else mk.original_test(values)
    assert got["method"] == ("seasonal_mann_kendall" if seasonal else "mann_kendall")
    assert got["statistic"] == pytest.approx(direct.z)
    assert got["p_value"] == pytest.approx(direct.p)
    assert got["level"] == direct.trend.replace(" ", "_")
    assert json.loads(got["details"])["tau"] == pytest.approx(direct.Tau)
    per_year = direct.slope if seasonal else direct.slope * 12
    assert got["score"] == pytest.approx(per_year)


@pytest.mark.parametrize("seasonal", [True, False], ids=["seasonal", "original"])
def test_sen_slope_is_per_year(seasonal):
    # +2 per month with a seasonal bump: 24 per year either way.
    months = np.arange(48)
    values = 100 + 2.0 * months + np.tile([0, 5, 9, 3, 0, -4, -8, -2, 0, 6, 1, -3], 4)
    got = mann_kendall_trends(monthly(values), "m", seasonal=seasonal, add_citywide=False).iloc[0]
    assert got["level"] == "increasing"
    assert got["score"] == pytest.approx(24.0)
    assert json.loads(got["details"])["slope_per_year"] == got["score"]


def test_mann_kendall_daily_slope_scales_by_days_per_year():
    got = mann_kendall_trends(daily(np.arange(30) * 0.5), "m", freq="D", add_citywide=False).iloc[0]
    assert got["method"] == "mann_kendall"
    assert got["score"] == pytest.approx(0.5 * 365.2425)


def test_mann_kendall_rows_per_area_and_citywide():
    frame = pd.concat([monthly(np.arange(36.0), "1"), monthly(np.arange(36.0)[::-1], "2")], ignore_index=True)
    got = mann_kendall_trends(frame, "m")
    assert list(got.columns) == TREND_SIGNAL_COLUMNS
    assert dict(zip(got["neighborhood_id"].map(repr), got["level"])) == {
        "None": "no_trend", "'1'": "increasing", "'2'": "decreasing"}
    assert (got["period_start"] == pd.Timestamp("2015-01-01")).all()
    assert (got["period_end"] == pd.Timestamp("2017-12-31")).all()


def test_complete_calendar_fills_absent_periods_and_ids():
    frame = monthly([4.0, 6.0, 8.0]).iloc[[0, 2]]
    got = complete_calendar(frame, "MS", ids=["9"])
    assert len(got) == 6
    assert got.loc[got["neighborhood_id"] == "7", "value"].tolist() == [4.0, 0.0, 8.0]
    assert got.loc[got["neighborhood_id"] == "9", "value"].tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize(
    ("frame", "match"),
    [
        (monthly([1.0, 2.0]).assign(period_start=pd.to_datetime(["2015-01-01", "2015-02-15"])), "row 1"),
        (pd.concat([monthly([1.0]), monthly([2.0])], ignore_index=True), "duplicate"),
        (monthly([1.0, -2.0]), "negative"),
        (monthly([1.0, np.nan]), "null"),
        (monthly([1.0, 2.0]).assign(neighborhood_id=7), "not a string"),
        (monthly([1.0]).drop(columns="value"), "missing column"),
    ],
    ids=["mid-month-period", "duplicate-key", "negative-count", "null-count", "int-id", "no-value-column"],
)
def test_bad_series_raise_input_error(frame, match):
    with pytest.raises(InputError, match=match):
        complete_calendar(frame, "MS")


def test_input_is_not_modified():
    frame = monthly(np.arange(30.0)).iloc[::2]
    before = frame.copy()
    mann_kendall_trends(frame, "m")
    ears(frame.assign(period_start=pd.date_range(DAY0, periods=len(frame), freq="D")), "m")
    pd.testing.assert_frame_equal(frame, before)

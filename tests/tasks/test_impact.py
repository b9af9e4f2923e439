"""Tests for tasks.trends.impact: ITS and DiD recover simulated effects and match statsmodels formula fits."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf

from schemas.errors import InputError
from tasks.trends.impact import (
    PROGRAM_IMPACT_COLUMNS,
    difference_in_differences,
    interrupted_time_series,
    placebo_inference,
    program_impact,
)

MONTHS = pd.date_range("2015-01-01", "2018-11-01", freq="MS")  # 47 months, as in the real data
START = pd.Timestamp("2017-01-01")


def its_series(seed=1, level_rr=0.7, base=80.0):
    rng = np.random.default_rng(seed)
    season = 1 + 0.2 * np.sin(2 * np.pi * MONTHS.month.to_numpy() / 12)
    lam = base * season * np.linspace(1.1, 0.95, len(MONTHS)) * np.where(MONTHS >= START, level_rr, 1.0)
    return pd.DataFrame({"period_start": MONTHS, "value": rng.poisson(lam).astype(float)})


def panel(n_areas=40, treated=("1",), rr=0.7, seed=2, overdispersion=True):
    rng = np.random.default_rng(seed)
    ids = [str(k) for k in range(1, n_areas + 1)]
    size = rng.gamma(3, 20, n_areas)
    time = (1 + 0.2 * np.sin(2 * np.pi * MONTHS.month.to_numpy() / 12)) * np.linspace(1.2, 0.8, len(MONTHS))
    lam = np.outer(time, size)
    if overdispersion:
        lam = lam * rng.gamma(10, 0.1, lam.shape)
    is_treated = np.isin(ids, treated)
    lam[np.ix_(MONTHS >= START, is_treated)] *= rr
    return pd.DataFrame({"neighborhood_id": np.tile(ids, len(MONTHS)), "period_start": np.repeat(MONTHS, n_areas),
                         "value": rng.poisson(lam).ravel().astype(float)})


def test_its_recovers_a_known_level_drop():
    got = interrupted_time_series(its_series(), START, 50_000.0)
    assert got["level_change_ci_low"] < 0.7 < got["level_change_ci_high"]
    assert got["level_change_ci_high"] < 1.0
    assert got["slope_change_ci_low"] < 1.0 < got["slope_change_ci_high"]
    assert (got["n_months_pre"], got["n_months_post"], got["maxlags"]) == (24, 23, 3)


def test_its_matches_a_statsmodels_formula_fit():
    data = its_series(seed=5)
    got = interrupted_time_series(data, START, 50_000.0, alpha=0.1)
    frame = data.assign(
        time=np.arange(len(data)), post=(data["period_start"] >= START).astype(int),
        month=data["period_start"].dt.month,
    )
    frame["time_since"] = (frame["time"] - 24).clip(lower=0) * frame["post"]
    fit = smf.glm("value ~ time + post + time_since + C(month)", data=frame, family=sm.families.Poisson(),
                  offset=np.log(np.full(len(frame), 50_000.0))).fit(
        cov_type="HAC", cov_kwds={"maxlags": 3, "use_correction": True}, use_t=True)
    low, high = np.exp(fit.conf_int(alpha=0.1).loc["post"])
    assert got["level_change_rr"] == pytest.approx(math.exp(fit.params["post"]), rel=1e-8)
    assert (got["level_change_ci_low"], got["level_change_ci_high"]) == (pytest.approx(low), pytest.approx(high))
    assert got["level_change_p"] == pytest.approx(fit.pvalues["post"], rel=1e-6)
    assert got["slope_change_rr"] == pytest.approx(math.exp(fit.params["time_since"]), rel=1e-8)


@pytest.mark.parametrize("seasonal", ["month", "harmonic", "none"])
def test_its_seasonal_options_recover_the_drop(seasonal):
    got = interrupted_time_series(its_series(seed=3), START, seasonal=seasonal)
    assert got["level_change_ci_low"] < 0.7 < got["level_change_ci_high"]


def test_its_missing_months_are_zero_counts():
    data = its_series(seed=4)
    data.loc[[5, 30], "value"] = 0.0
    a = interrupted_time_series(data, START)
    b = interrupted_time_series(data.drop(index=[5, 30]), START)
    assert a == pytest.approx(b)


@pytest.mark.parametrize(
    ("start", "match"),
    [(pd.Timestamp("2015-06-01"), "needs at least 12"), (pd.Timestamp("2019-01-01"), "needs at least"),
     (pd.Timestamp("2017-01-15"), "not a month start")],
    ids=["short-pre-period", "start-after-series", "mid-month-start"],
)
def test_its_rejects_unusable_starts(start, match):
    with pytest.raises(InputError, match=match):
        interrupted_time_series(its_series(), start)


def test_did_one_treated_area_recovers_the_effect_with_placebo_inference():
    data = panel()
    got = difference_in_differences(data, ["1"], START, [str(k) for k in range(2, 41)])
    assert got["inference"] == "placebo"
    assert got["ci_low"] < 0.7 < got["ci_high"]
    # The cluster-robust interval is far narrower with one treated cluster (it is kept in details).
    assert got["cluster_ci_high"] - got["cluster_ci_low"] < (got["ci_high"] - got["ci_low"]) / 2


def test_did_many_treated_areas_use_cluster_robust_errors():
    treated = [str(k) for k in range(1, 13)]
    got = difference_in_differences(panel(treated=treated, seed=8), treated, START, [str(k) for k in range(13, 41)])
    assert got["inference"] == "cluster" and got["n_treated"] == 12
    assert got["ci_low"] < 0.7 < got["ci_high"]
    assert got["ci_high"] < 1.0


def test_did_matches_a_statsmodels_formula_fit():
    data = panel(n_areas=15, overdispersion=False, seed=9)
    got = difference_in_differences(data, ["1"], START, [str(k) for k in range(2, 16)], inference="cluster")
    frame = data.assign(treated_post=((data["neighborhood_id"] == "1") & (data["period_start"] >= START)).astype(int),
                        month=data["period_start"].dt.strftime("%Y-%m"))
    fit = smf.glm("value ~ treated_post + C(neighborhood_id) + C(month)", data=frame,
                  family=sm.families.Poisson()).fit(
        cov_type="cluster", cov_kwds={"groups": pd.factorize(frame["neighborhood_id"])[0]}, use_t=True)
    low, high = np.exp(fit.conf_int().loc["treated_post"])
    assert got["rate_ratio"] == pytest.approx(math.exp(fit.params["treated_post"]), rel=1e-7)
    assert (got["ci_low"], got["ci_high"]) == (pytest.approx(low, rel=1e-6), pytest.approx(high, rel=1e-6))


def test_did_constant_population_offset_is_absorbed():
    data = panel(n_areas=12, seed=11)
    comparison = [str(k) for k in range(2, 13)]
    pop = pd.DataFrame({"neighborhood_id": [str(k) for k in range(1, 13)], "population": np.arange(1, 13) * 1000})
    a = difference_in_differences(data, ["1"], START, comparison)
    b = difference_in_differences(data, ["1"], START, comparison, population=pop)
    assert a["rate_ratio"] == pytest.approx(b["rate_ratio"], rel=1e-8)


def test_did_drops_all_zero_comparison_areas():
    data = panel(n_areas=10, seed=12)
    data.loc[data["neighborhood_id"] == "10", "value"] = 0.0
    got = difference_in_differences(data, ["1"], START, [str(k) for k in range(2, 11)])
    assert got["dropped_all_zero"] == ["10"] and got["n_comparison"] == 8


def test_placebo_inference_by_hand():
    seg = pd.DataFrame({False: [100.0, 50.0, 80.0, 40.0, 60.0], True: [60.0, 55.0, 70.0, 44.0, 50.0]},
                       index=["t", "a", "b", "c", "d"])
    log_rr = math.log((60 / 100) / (219 / 230))
    got = placebo_inference(seg, ["t"], log_rr, alpha=0.25)
    pool = ["a", "b", "c", "d"]
    t_abs = []
    for j in pool:
        rest = [k for k in pool if k != j]
        yp, yq = seg.at[j, False], seg.at[j, True]
        rp, rq = seg.loc[rest, False].sum(), seg.loc[rest, True].sum()
        t_abs.append(abs(math.log((yq / yp) / (rq / rp)) / math.sqrt(1 / yp + 1 / yq + 1 / rp + 1 / rq)))
    se = math.sqrt(1 / 100 + 1 / 60 + 1 / 230 + 1 / 219)
    t_obs = abs(log_rr / se)
    assert got["placebo_n"] == 4
    assert got["placebo_p"] == pytest.approx((1 + sum(t >= t_obs for t in t_abs)) / 5)
    q = sorted(t_abs)[math.ceil(0.75 * 3)]  # numpy 'higher' quantile of 4 values at 0.75
    assert got["placebo_ci_low"] == pytest.approx(math.exp(log_rr - q * se))


def test_program_impact_rows_and_skips():
    data = panel(n_areas=30, treated=("1",), seed=13)
    population = pd.DataFrame({"neighborhood_id": [str(k) for k in range(1, 31)], "population": 20_000})
    programs = pd.DataFrame({
        "program_id": ["p1", "p2", "p3", "p4"],
        "neighborhood_id": ["1", "2", None, "3"],
        "started_on": pd.to_datetime(["2017-01-10", "2020-05-01", "2016-03-01", "2018-03-01"]),
    })
    got = program_impact(programs, data, population, metric="drug_incidents")
    assert list(got.columns) == PROGRAM_IMPACT_COLUMNS
    assert list(zip(got["program_id"], got["method"])) == [
        ("p1", "its"), ("p1", "did"), ("p2", "its"), ("p2", "did"), ("p3", "its"), ("p3", "did"),
        ("p4", "its"), ("p4", "did")]
    p1 = got[got["program_id"] == "p1"].set_index("method")
    assert (p1["ci_low"] < 0.7).all() and (p1["ci_high"] > 0.7).all()
    assert p1.loc["did", "n_pre"] == 24
    did = json.loads(p1.loc["did", "details"])
    # Areas 1 and 3 have programs inside the panel; area 2's starts after it, so it still compares.
    assert did["metric"] == "drug_incidents" and did["n_comparison"] == 28
    skipped = got[got["estimate"].isna()]
    assert list(zip(skipped["program_id"], skipped["method"])) == [("p2", "its"), ("p2", "did"), ("p3", "did")]
    assert all("skipped" in json.loads(d) for d in skipped["details"])
    assert got.loc[(got["program_id"] == "p3") & (got["method"] == "its"), "estimate"].notna().item()

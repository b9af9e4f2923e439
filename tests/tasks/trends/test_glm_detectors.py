"""The headline detector: CUSUM by hand, planted outbreaks found, null Poisson series within budget."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tasks.trends.budget import count_episodes
from tasks.trends.methods.glm_baseline import cusum_llr, glm_baseline, glm_scores
from tasks.trends.series import TREND_SIGNAL_COLUMNS

DAYS = pd.date_range("2015-01-05", periods=1100, freq="D")


def test_cusum_matches_the_recursion_by_hand():
    y = np.array([[2.0], [6.0], [np.nan], [1.0], [9.0]])
    mu = np.array([[2.0], [2.0], [2.0], [2.0], [3.0]])
    phi = np.array([[1.0], [2.0], [1.0], [1.0], [1.5]])
    r = 2.0
    s, want = 0.0, []
    for yt, mt, pt in zip(y[:, 0], mu[:, 0], phi[:, 0]):
        if np.isnan(yt):
            want.append(np.nan)
            continue
        s = max(0.0, s + (yt * np.log(r) - mt * (r - 1)) / pt)
        want.append(s)
    got = cusum_llr(y, mu, phi, r)[:, 0]
    np.testing.assert_allclose(got, want)
    assert got[1] == pytest.approx((6 * np.log(2) - 2) / 2 + max(0.0, 2 * np.log(2) - 2))


def series(level, seed, outbreak=None):
    rng = np.random.default_rng(seed)
    mu = level * np.exp(0.15 * np.sin(2 * np.pi * np.arange(len(DAYS)) / 365.25))
    y = rng.poisson(mu).astype(float)
    if outbreak is not None:
        start, length, rise = outbreak
        y[start:start + length] += rng.poisson(rise * mu[start:start + length])
    return y


def test_null_poisson_series_stay_within_the_budget_and_a_doubling_is_found():
    Y = np.column_stack([series(3.0, s) for s in range(6)] + [series(3.0, 99, (1000, 14, 1.0))])
    sc = glm_scores(DAYS, Y, "day", {"alarm_budget": 1.0})
    scored_years = np.isfinite(sc["expected"]).sum(axis=0) / 365.2425
    eps = count_episodes(sc["alarm"], 2)
    assert (eps[:6] <= np.floor(scored_years[:6])).all()  # calibrated on their own history
    assert sc["alarm"][1000:1014, 6].any()
    assert not sc["alarm"][1000:1014, :6].any()


def test_minimum_count_rule_blocks_sparse_alarms():
    Y = np.zeros((len(DAYS), 1))
    Y[::60, 0] = 1.0
    Y[1050, 0] = 3.0  # 4 events in 28 days: a huge relative jump, but below 5
    sc = glm_scores(DAYS, Y, "day")
    assert not sc["alarm"][1050, 0]


def test_output_rows_and_details():
    y = series(3.0, 7, (1000, 14, 2.0))
    frame = pd.DataFrame({"neighborhood_id": "8", "period_start": DAYS, "value": y})
    got = glm_baseline(frame, "drug_incidents", "day")
    assert list(got.columns) == TREND_SIGNAL_COLUMNS
    assert set(got["method"]) <= {"glm_spike", "glm_cusum"} and set(got["level"]) == {"alarm"}
    assert (got["score"] > 0).all()
    hit = got[(got["period_start"] >= DAYS[1000]) & (got["neighborhood_id"] == "8")]
    assert len(hit)
    d = json.loads(hit.iloc[0]["details"])
    assert d["area_ids"] == ["8"] and d["value"] == y[DAYS.get_loc(hit.iloc[0]["period_start"])]
    assert d["expected"] > 0 and d["n_recent"] >= 5 and d["alarm_budget"] == 1.0
    spikes = got[got["method"] == "glm_spike"]
    assert spikes["p_value"].between(0, 1).all() and spikes["p_value"].notna().all()
    assert got[got["method"] == "glm_cusum"]["p_value"].isna().all()

"""The alarm bench scores injections against fits made once: check that equals refitting the injected series."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bench.alarm_injections import EarsScorer, GlmScorer, Injections, draw_injections, first_new_alarm, oracle_detected
from tasks.trends.baseline import BASELINES, rolling_baseline
from tasks.trends.methods.ears import ears_statistics
from tasks.trends.methods.glm_baseline import cusum_llr

DAYS = pd.date_range("2015-01-05", periods=900, freq="D")


@pytest.fixture(scope="module")
def counts():
    rng = np.random.default_rng(5)
    return rng.poisson(np.array([0.3, 2.0, 6.0])[None, :] * np.ones((900, 1))).astype(float)


@pytest.fixture(scope="module")
def glm(counts):
    return GlmScorer(DAYS, counts, "day", {"fdr_q": None})


def test_zero_injections_reproduce_the_clean_alarms(counts, glm):
    inj = draw_injections(counts, np.arange(3), 400, 200, 14, 1.0, np.random.default_rng(1))
    zero = Injections(inj.col, inj.start, np.zeros_like(inj.extra))
    rows = inj.start[:, None] + np.arange(14)[None, :]
    np.testing.assert_array_equal(glm.inject(zero), glm.clean_alarm[rows, inj.col[:, None]])
    ears = EarsScorer(counts, 400, 1.0)
    np.testing.assert_array_equal(ears.inject(zero), ears.clean_alarm[rows, inj.col[:, None]])


def test_injected_scores_equal_a_refit_on_the_injected_series(counts, glm):
    inj = Injections(np.array([1]), np.array([700]), np.full((1, 14), 3.0))
    y = counts.copy()
    y[700:714, 1] += 3.0
    refit = rolling_baseline(DAYS, y, BASELINES["day"])
    np.testing.assert_allclose(glm._expected(inj, inj.col)[0], refit["expected"][700:714, 1], rtol=1e-9)
    np.testing.assert_allclose(refit["phi"][700:714, 1], glm.sc["phi"][700:714, 1])
    cus = cusum_llr(y, refit["expected"], refit["phi"], glm.params["cusum_ratio"])[700:714, 1]
    mu = glm._expected(inj, inj.col)[0]
    start = glm.sc["cusum"][699, 1]
    mine = cusum_llr(y[700:714, 1:2], mu[:, None], glm.sc["phi"][700:714, 1:2], glm.params["cusum_ratio"],
                     start=np.array([start]))[:, 0]
    np.testing.assert_allclose(mine, cus, rtol=1e-9)


def test_ears_injection_equals_ears_on_the_injected_series(counts):
    scorer = EarsScorer(counts, 400, None)
    inj = Injections(np.array([2]), np.array([600]), np.full((1, 7), 8.0))
    y = counts.copy()
    y[600:607, 2] += 8.0
    st = ears_statistics(y)
    full = np.fmax(np.fmax(st["ears_c1"] - 3, st["ears_c2"] - 3), st["ears_c3"] - 2)[600:607, 2] > 0
    np.testing.assert_array_equal(scorer.inject(inj)[0], full)


def test_first_new_alarm_ignores_alarms_the_real_series_had():
    alarm = np.array([[0, 1, 1], [1, 1, 0], [0, 0, 0]], bool)
    clean = np.array([[0, 1, 0], [1, 0, 0], [0, 0, 0]], bool)
    assert first_new_alarm(alarm, clean).tolist() == [2, 1, -1]


def test_a_large_outbreak_is_found_by_all(counts, glm):
    inj = draw_injections(counts, np.array([2]), 400, 50, 14, 3.0, np.random.default_rng(2))
    assert glm.inject(inj).any(axis=1).mean() > 0.9
    assert oracle_detected(inj, counts, 1.0).mean() > 0.9

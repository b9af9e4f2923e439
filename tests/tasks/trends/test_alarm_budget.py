"""Alarm budget arithmetic: episodes of masks, calibrated thresholds, minimum count, BH q-values."""
from __future__ import annotations

import numpy as np
import pytest
from statsmodels.stats.multitest import multipletests

from tasks.trends.budget import (
    bh_qvalues, calibrate_thresholds, count_episodes, episode_starts, min_count_mask, recent_counts,
)


@pytest.mark.parametrize(("gap", "want"), [(0, 4), (1, 3), (2, 2)])
def test_episodes_merge_runs_within_the_gap(gap, want):
    mask = np.array([1, 1, 0, 1, 0, 0, 1, 0, 0, 0, 1], bool)[:, None]
    assert count_episodes(mask, gap)[0] == want
    assert episode_starts(mask, 0)[:, 0].nonzero()[0].tolist() == [0, 3, 6, 10]


def test_minimum_count_rule_by_hand():
    y = np.zeros((40, 1))
    y[[2, 10, 20, 29, 30], 0] = 1
    assert recent_counts(y, 28)[30, 0] == 4  # the 28 days ending on day 30 are days 3..30: day 2 is out
    assert not min_count_mask(y, 1)[30, 0]
    y[25, 0] = 1
    assert min_count_mask(y, 1)[30, 0]


def test_calibrated_threshold_keeps_the_budget_on_the_history():
    # Two years of daily scores; five excursions of decreasing height, one day each.
    score = np.zeros((730, 1))
    for day, height in zip((50, 200, 350, 500, 650), (9.0, 8.0, 7.0, 6.0, 5.0)):
        score[day] = height
    got = calibrate_thresholds(score, np.ones_like(score, bool), budget=1.0, periods_per_year=365.0,
                               floor=1.0, default=99.0)
    # 2 years x 1 per year = 2 episodes allowed: alarms are score > 7 (the 9 and the 8).
    assert got[0] == 7.0
    assert count_episodes(score > got, 0)[0] == 2
    half = calibrate_thresholds(score, np.ones_like(score, bool), 0.5, 365.0, 1.0, 99.0)
    assert half[0] == 8.0


def test_calibration_counts_the_other_rules_alarms_and_respects_floor_and_default():
    score = np.zeros((730, 1))
    score[[100, 300], 0] = [5.0, 4.0]
    other = np.zeros((730, 1), bool)
    other[500] = True  # the spike rule already spent one episode
    got = calibrate_thresholds(score, np.ones_like(score, bool), 1.0, 365.0, 1.0, 99.0, already=other)
    assert got[0] == 4.0  # only the 5 may add an episode
    quiet = calibrate_thresholds(np.zeros((730, 1)), np.ones((730, 1), bool), 1.0, 365.0, 2.5, 99.0)
    assert quiet[0] == 2.5
    short = calibrate_thresholds(np.zeros((100, 1)), np.ones((100, 1), bool), 1.0, 365.0, 2.5, 99.0)
    assert short[0] == 99.0


def test_bh_qvalues_equal_statsmodels_row_by_row():
    rng = np.random.default_rng(1)
    p = rng.random((30, 25)) ** 3
    p[rng.random(p.shape) < 0.2] = np.nan
    p[4, :] = np.nan
    q = bh_qvalues(p)
    for r in range(len(p)):
        ok = np.isfinite(p[r])
        if ok.any():
            np.testing.assert_allclose(q[r, ok], multipletests(p[r, ok], method="fdr_bh")[1])
        assert np.isnan(q[r, ~ok]).all()

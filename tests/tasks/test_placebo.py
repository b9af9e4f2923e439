"""Tests for tasks.trends.placebo: permutation p-values with their resolution, distinct placebo sets,
test inversion and Benjamini-Hochberg, each against a hand-computed case or statsmodels."""
from __future__ import annotations

import math

import numpy as np
import pytest

from tasks.trends.placebo import (RATE_RATIO_GRID, benjamini_hochberg, in_time_p_values, invert_test,
                                  placebo_sets, rank_p_value)


def test_rank_p_value_counts_the_observed_assignment():
    got = rank_p_value(3.0, np.array([1.0, 2.0, 3.0, 4.0]))
    assert got == {"p_value": pytest.approx(3 / 5), "n_placebos": 4, "min_p": pytest.approx(1 / 5)}


def test_rank_p_value_most_extreme_gets_the_smallest_attainable_p():
    got = rank_p_value(10.0, np.array([1.0, 2.0, np.nan, 3.0]))
    assert got["n_placebos"] == 3 and got["p_value"] == pytest.approx(0.25) == got["min_p"]


def test_three_treated_three_comparison_have_three_distinct_placebos():
    sets = placebo_sets(n_pool=3, size=3, max_sets=199)
    # Each placebo keeps one comparison unit: C(3, 2) = 3 sets, however many draws were asked for.
    assert sets.shape == (3, 3) and (sets.sum(axis=1) == 2).all()
    assert len({tuple(r) for r in sets}) == 3


def test_placebo_sets_samples_distinct_sets_when_there_are_many():
    sets = placebo_sets(n_pool=10, size=3, max_sets=50, seed=4)
    assert sets.shape == (50, 10) and len({tuple(r) for r in sets}) == 50
    assert (placebo_sets(10, 3, max_sets=50, seed=4) == sets).all()  # seeded
    assert placebo_sets(10, 3, max_sets=500).shape[0] == math.comb(10, 3)  # 120 <= 500: all of them


def test_in_time_p_values_by_hand():
    stats = np.array([[0.5, -2.0, 1.0, 3.0], [0.5, -4.0, 1.0, 3.0]])
    got = in_time_p_values(stats, actual=1)
    assert got == pytest.approx([2 / 4, 1 / 4])  # |-2| is beaten by 3; |-4| by nothing


def test_invert_test_returns_the_hull_and_flags():
    grid = np.array([0.5, 0.8, 1.0, 1.25, 2.0])
    got = invert_test(lambda g: np.array([0.01, 0.2, 0.5, 0.04, 0.3]), 0.05, grid)
    assert (got["ci_low"], got["ci_high"]) == (0.8, 2.0)
    assert got["gaps"] and got["open_high"] and not got["open_low"] and not got["empty"]
    assert invert_test(lambda g: np.zeros(g.size), 0.05, grid)["empty"]


def test_rate_ratio_grid_holds_exactly_one():
    assert 1.0 in RATE_RATIO_GRID and RATE_RATIO_GRID[0] == pytest.approx(0.05)


def test_benjamini_hochberg_by_hand_and_nan_kept():
    p = [0.01, 0.04, np.nan, 0.03, 0.2]
    # Sorted 0.01, 0.03, 0.04, 0.2 (m = 4): q = min over j >= i of p_j * m / j.
    expected = [0.04, 0.04 * 4 / 3, np.nan, 0.04 * 4 / 3, 0.2]
    np.testing.assert_allclose(benjamini_hochberg(p), expected)

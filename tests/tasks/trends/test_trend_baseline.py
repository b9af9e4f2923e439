"""The regression baseline: IRLS pinned to statsmodels' GLM, NB tails to scipy, the rolling schedule."""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from tasks.trends.baseline import (
    BASELINES, BaselineConfig, anscombe_residuals, design_matrix, fit_quasi_poisson, level_sums, rolling_baseline,
    upper_tail,
)

DAYS = pd.date_range("2016-01-01", periods=900, freq="D")


def poisson_days(seed=1, level=4.0, n=900):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    mu = level * np.exp(0.2 * np.sin(2 * np.pi * t / 365.25) + 0.15 * (DAYS[:n].weekday >= 5))
    return rng.poisson(mu).astype(float)


@pytest.mark.parametrize("level", [0.3, 4.0, 40.0], ids=["sparse", "mid", "busy"])
def test_irls_equals_statsmodels_glm(level):
    cfg = BASELINES["day"]
    X = design_matrix(DAYS[:728], cfg)
    Y = np.stack([poisson_days(s, level)[:728] for s in (1, 2)])
    weights = np.ones_like(Y)
    weights[1, 100:130] = 0.0  # a gap in the second series
    beta, disp = fit_quasi_poisson(X, Y, weights, max_iter=100, tol=1e-12)
    for s in range(2):
        keep = weights[s] > 0
        ref = sm.GLM(Y[s, keep], X[keep], family=sm.families.Poisson()).fit(scale="X2", tol=1e-12)
        np.testing.assert_allclose(np.exp(X @ beta[s]), np.exp(X @ ref.params), rtol=1e-6)
        assert disp[s] == pytest.approx(ref.scale, rel=1e-6)


def test_penalty_is_a_ridge_on_the_log_likelihood():
    # A ridge-penalised Poisson fit solves X'(y - mu) = P beta; check the score equation directly.
    cfg = BASELINES["day"]
    X = design_matrix(DAYS[:400], cfg)
    y = poisson_days(3, 2.0)[:400]
    pen = np.linspace(0, 2, X.shape[1])
    beta, _ = fit_quasi_poisson(X, y[None], np.ones((1, 400)), pen, max_iter=100, tol=1e-13)
    mu = np.exp(X @ beta[0])
    np.testing.assert_allclose(X.T @ (y - mu), (pen + 1e-9) * beta[0], atol=1e-6)


def test_design_terms_and_flat_forecast():
    cfg = BaselineConfig(window=364, min_train=100, guard=7, refit_every=28, harmonics=1, day_of_week=True,
                         knot_days=91.0)
    X = design_matrix(DAYS[:400], cfg, end=364)
    # 1, years to the window end, 3 hinges (91, 182, 273 days back), 6 weekdays, sin, cos
    assert X.shape == (400, 1 + 1 + 3 + 6 + 2)
    assert X[363, 1] == 0.0 and X[0, 1] == pytest.approx(-363 / 365.25)
    np.testing.assert_array_equal(X[364:, 1:5], np.repeat(X[363:364, 1:5], 36, axis=0))  # flat after the end
    assert X[:, 5:11].sum(axis=1).max() == 1.0 and X[DAYS[:400].weekday == 0, 5:11].sum() == 0


def test_upper_tail_is_the_negative_binomial_with_variance_phi_mu():
    y, mu, phi = np.array([0, 3, 9, 9]), np.array([2.0, 2.0, 4.0, 4.0]), np.array([1.0, 2.5, 1.0, 3.0])
    got = upper_tail(y, mu, phi)
    assert got[0] == 1.0
    size = 2.0 / 1.5
    assert got[1] == pytest.approx(stats.nbinom.sf(2, size, 1 / 2.5))
    assert got[2] == pytest.approx(stats.poisson.sf(8, 4.0))
    nb = stats.nbinom(4.0 / 2.0, 1 / 3.0)
    assert nb.mean() == pytest.approx(4.0) and nb.var() == pytest.approx(12.0)
    assert got[3] == pytest.approx(nb.sf(8))
    assert np.isnan(upper_tail(np.array([1.0]), np.array([np.nan]), np.array([1.0])))[0]


def test_anscombe_residual_by_hand():
    # r = 1.5 (y^(2/3) mu^(1/3) - mu) / (mu^(1/6) sqrt(phi)); y = 8, mu = 1, phi = 4: 1.5 * 3 / 2
    assert anscombe_residuals(np.array([8.0]), np.array([1.0]), np.array([4.0]))[0] == pytest.approx(2.25)


def test_rolling_fits_never_read_the_guard_band():
    cfg = dataclasses.replace(BASELINES["day"], level_periods=0)
    y = poisson_days()
    base = rolling_baseline(DAYS, y[:, None], cfg)
    t = 700
    r = base["fit_index"][t]
    assert r <= t and r > t - cfg.refit_every
    bumped = y.copy()
    bumped[r - cfg.guard:t + 1] += 50  # an outbreak inside the guard band and up to t
    again = rolling_baseline(DAYS, bumped[:, None], cfg)
    assert again["expected"][t, 0] == pytest.approx(base["expected"][t, 0])
    assert np.isnan(base["expected"][: cfg.min_train + cfg.guard]).all()


def test_relevelling_sums_by_hand():
    Y = np.arange(10, dtype=float)[:, None]
    mu = np.ones((10, 1))
    obs, exp = level_sums(Y, mu, guard=2, periods=3)
    # period 7 reads periods 2, 3, 4: 2 + 3 + 4 = 9 observed against 3 expected
    assert obs[7, 0] == 9.0 and exp[7, 0] == 3.0
    assert obs[1, 0] == 0.0 and exp[1, 0] == 0.0


def test_missing_periods_get_no_prediction_and_no_weight():
    cfg = dataclasses.replace(BASELINES["day"], level_periods=0)
    y = poisson_days()
    gapped = y.copy()
    gapped[500:520] = np.nan
    out = rolling_baseline(DAYS, gapped[:, None], cfg)
    assert np.isnan(out["expected"][500:520, 0]).all()
    assert np.isfinite(out["expected"][600, 0])

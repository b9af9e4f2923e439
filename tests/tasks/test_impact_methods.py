"""Tests pinning each impact estimator to a reference on small synthetic panels: statsmodels' Poisson
likelihood ratio (comparative ITS), pysyncon's weights and a known convex case (synthetic control),
diff-diff's Callaway-Sant'Anna ATT(g,t) and a hand-computed DiD (staggered DiD), and the placebo
resolution each reports."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from pysyncon import Synth
from pysyncon.base import VanillaOptimMixin

from tasks.trends.methods.comparative_its import comparative_its
from tasks.trends.methods.staggered_did import NEVER, cohort_effect, group_time_att, space_placebo
from tasks.trends.methods.synthetic_control import simplex_weights, synthetic_control

N = 46  # months, as 2015-01..2018-10


def common_path(n=N, seed=0):
    """A shared multiplicative path: a trend, a season and the Dec-2015-like step."""
    t = np.arange(n)
    return (1 + 0.15 * np.sin(2 * np.pi * t / 12)) * np.where(t >= 12, 0.7, 1.0) * np.linspace(1.1, 0.9, n)


def poisson_panel(n_areas=20, n=N, seed=1, effect=1.0, treated=(0,), k=24):
    rng = np.random.default_rng(seed)
    size = rng.gamma(4, 15, n_areas)
    lam = np.outer(common_path(n), size)
    lam[k:, list(treated)] *= effect
    return rng.poisson(lam).astype(float)


# ----------------------------------------------------------------------------- comparative ITS

def test_comparative_its_estimate_and_lr_match_a_statsmodels_poisson_fit():
    counts = poisson_panel(seed=2)
    y, comparison, k = counts[:, 0], counts[:, 1:].sum(axis=1), 20
    got = comparative_its(y, comparison, k)
    post = (np.arange(N) >= k).astype(float)
    fit = sm.GLM(y, sm.add_constant(post), family=sm.families.Poisson(), offset=np.log(comparison)).fit()
    assert got["estimate"] == pytest.approx(np.exp(fit.params[1]), rel=1e-9)
    assert got["expected_post"] == pytest.approx(y[:k].sum() * comparison[k:].sum() / comparison[:k].sum())
    # The in-time statistic at every start is the Poisson deviance drop of a level change there.
    lr = []
    for s in range(12, N - 6 + 1):
        step = (np.arange(N) >= s).astype(float)
        null = sm.GLM(y, np.ones((N, 1)), family=sm.families.Poisson(), offset=np.log(comparison)).fit()
        alt = sm.GLM(y, sm.add_constant(step), family=sm.families.Poisson(), offset=np.log(comparison)).fit()
        lr.append(null.deviance - alt.deviance)
    lr = np.array(lr)
    assert got["p_value"] == pytest.approx((lr >= lr[k - 12] - 1e-9).mean())


def test_comparative_its_recovers_a_planted_effect_at_full_resolution():
    counts = poisson_panel(seed=3, effect=0.6, k=24)
    got = comparative_its(counts[:, 0], counts[:, 1:].sum(axis=1), 24)
    assert got["ci_low"] < 0.6 < got["ci_high"] < 1.0
    # 29 candidate starts (12..40): 28 placebos, and the real start is the most extreme one.
    assert got["n_placebos"] == 28 and got["min_p"] == pytest.approx(1 / 29) == got["p_value"]


def test_comparative_its_null_interval_covers_one():
    counts = poisson_panel(seed=4)
    got = comparative_its(counts[:, 0], counts[:, 1:].sum(axis=1), 30)
    assert got["ci_low"] < 1 < got["ci_high"] and got["p_value"] > 0.05


def test_comparative_its_sparse_counts_stay_finite():
    rng = np.random.default_rng(5)
    y = rng.poisson(0.4, N).astype(float)
    comparison = rng.poisson(30 * common_path(), N).astype(float)
    got = comparative_its(y, comparison, 20)
    assert np.isfinite(got["p_value"]) and got["ci_high"] / got["ci_low"] > 4  # wide: cannot tell


def test_comparative_its_rejects_a_start_outside_the_candidates():
    with pytest.raises(ValueError, match="not a candidate start"):
        comparative_its(np.ones(N), np.ones(N), 5)


# ----------------------------------------------------------------------------- synthetic control

def test_simplex_weights_match_pysyncon_qp():
    rng = np.random.default_rng(6)
    donors = rng.gamma(2, 1, (24, 15))
    target = donors @ rng.dirichlet(np.ones(15)) + rng.normal(0, 0.2, 24)
    ours = simplex_weights(donors, target)
    ref, _ = VanillaOptimMixin.w_optimize(np.eye(24), donors, target)
    assert ours.sum() == pytest.approx(1) and (ours >= 0).all()
    np.testing.assert_allclose(ours, ref, atol=2e-3)


def test_simplex_weights_match_pysyncon_synth_fit():
    rng = np.random.default_rng(7)
    x0 = pd.DataFrame(rng.gamma(3, 1, (12, 6)), columns=[f"d{j}" for j in range(6)])
    x1 = pd.Series(x0.to_numpy() @ np.array([0.5, 0.3, 0.2, 0, 0, 0]) + rng.normal(0, 0.05, 12), name="t")
    # Synth.fit divides each predictor row by its std across units; V = std^2 undoes it (V = I on raw rows).
    std = pd.concat([x0, x1], axis=1).std(axis=1).to_numpy()
    synth = Synth()
    synth.fit(X0=x0, X1=x1, Z0=x0, Z1=x1, custom_V=std ** 2)
    np.testing.assert_allclose(simplex_weights(x0.to_numpy(), x1.to_numpy()), synth.W, atol=2e-3)


def test_synthetic_control_recovers_known_weights_and_effect():
    rng = np.random.default_rng(8)
    donors = rng.poisson(np.outer(common_path(), rng.gamma(5, 10, 12)) * rng.gamma(20, 0.05, (N, 12))).astype(float)
    index = donors / donors[:24].mean(axis=0)
    y = 80 * index @ np.r_[0.2, 0.3, 0.5, np.zeros(9)]
    got = synthetic_control(y, donors, 24)
    np.testing.assert_allclose(got["weights"][:3], [0.2, 0.3, 0.5], atol=1e-3)
    assert got["estimate"] == pytest.approx(1.0, abs=1e-3)
    planted = synthetic_control(np.where(np.arange(N) >= 24, 0.7 * y, y), donors, 24)
    assert planted["estimate"] == pytest.approx(0.7, abs=1e-3)
    assert planted["ci_low"] < 0.7 < planted["ci_high"]
    # 12 donors: 12 placebos, and the planted effect is the most extreme RMSPE ratio.
    assert planted["n_placebos"] == 12 and planted["p_value"] == pytest.approx(1 / 13) == planted["min_p"]


# ----------------------------------------------------------------------------- staggered DiD

def cs_panel(seed=9):
    rng = np.random.default_rng(seed)
    adoption = np.array([4, 6, 6, 8, NEVER, NEVER, NEVER, NEVER])
    y = rng.poisson(20 + np.arange(8)[None, :] + 2 * np.arange(10)[:, None]).astype(float)
    return y, adoption


@pytest.mark.parametrize("g", [4, 6, 8])
def test_group_time_att_matches_diff_diff_callaway_santanna(g):
    from diff_diff import CallawaySantAnna

    y, adoption = cs_panel()
    long = pd.DataFrame({"unit": np.tile(np.arange(8), 10), "time": np.repeat(np.arange(1, 11), 8),
                         "y": y.ravel(), "first": np.tile(np.where(adoption >= NEVER, 0, adoption + 1), 10)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = CallawaySantAnna(control_group="not_yet_treated", estimation_method="reg",
                               base_period="universal").fit(long, "y", "unit", "time", "first")
    ours = group_time_att(y, adoption, adoption == g, g)  # period index t = time - 1
    for (cohort, time), cell in ref.group_time_effects.items():
        if cohort == g + 1 and np.isfinite(cell["effect"]):
            assert ours[time - 1] == pytest.approx(cell["effect"], abs=1e-9), (cohort, time)


def test_cohort_effect_by_hand():
    # Two periods before, two after; one treated area, one never-treated; indices by hand.
    index = np.array([[1.0, 1.0], [1.0, 1.2], [0.8, 1.1], [0.6, 1.1]])
    got = cohort_effect(index, np.array([2, NEVER]), np.array([True, False]), 2)
    # ATT(2,t), base t=1: t0: (1-1)-(1-1.2)=0.2, t1: 0, t2: (0.8-1)-(1.1-1.2)=-0.1, t3: -0.3.
    np.testing.assert_allclose(got["att_gt"], [0.2, 0.0, -0.1, -0.3])
    assert got["att"] == pytest.approx(-0.2 - 0.1)
    assert got["rate_ratio"] == pytest.approx(0.7 / (0.7 + 0.3))


def test_space_placebo_three_treated_three_comparison_resolution():
    rng = np.random.default_rng(10)
    index = rng.gamma(50, 0.02, (20, 6))
    adoption = np.array([10, 10, 10, NEVER, NEVER, NEVER])
    got = space_placebo(index, adoption, adoption == 10, 10)
    assert got["n_placebos"] == 3 and got["min_p"] == pytest.approx(0.25)
    assert got["p_value"] in (0.25, 0.5, 0.75, 1.0)

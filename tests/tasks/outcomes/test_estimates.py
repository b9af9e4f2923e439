"""Risk ratios pinned to statsmodels' weighted, person-clustered Poisson GLM; Kaplan-Meier to a hand
computation and to lifelines; proportions to hand-computed Wilson intervals."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from tasks.outcomes.risk_ratio import matched_risk_ratio, risk_ratio_table
from tasks.outcomes.survival import km_curve, rearrest_curves, survival_at
from tasks.outcomes.treatment import rate_table


def _members(seed: int, n_sets: int = 60, k: int = 4, p1: float = 0.3, p0: float = 0.45) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n_sets):
        rows.append((s, f"T{s}", "participant", 1.0, rng.random() < p1))
        m = int(rng.integers(1, k + 1))
        for c in rng.choice(80, size=m, replace=False):  # a pool of 80 people reused across sets
            rows.append((s, f"C{c}", "comparison", 1.0 / m, rng.random() < p0))
    return pd.DataFrame(rows, columns=["set_id", "person_key", "role", "weight", "event"])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_risk_ratio_equals_statsmodels_clustered_glm(seed):
    m = _members(seed)
    rr = matched_risk_ratio(m)
    y = m["event"].astype(float).to_numpy()
    x = sm.add_constant((m["role"] == "participant").astype(float).to_numpy())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # statsmodels flags cov_type with var_weights as 'not fully supported'
        fit = sm.GLM(y, x, family=sm.families.Poisson(), var_weights=m["weight"].to_numpy()).fit(
            cov_type="cluster", cov_kwds={"groups": pd.factorize(m["person_key"])[0]})
    z = 1.959963984540054
    assert rr.risk_ratio == pytest.approx(np.exp(fit.params[1]), rel=1e-9)
    assert rr.ci_low == pytest.approx(np.exp(fit.params[1] - z * fit.bse[1]), rel=1e-9)
    assert rr.ci_high == pytest.approx(np.exp(fit.params[1] + z * fit.bse[1]), rel=1e-9)


def test_risk_ratio_hand_computed_point_estimate():
    m = pd.DataFrame({"set_id": [0, 0, 0, 1, 1], "person_key": ["t1", "c1", "c2", "t2", "c3"],
                      "role": ["participant", "comparison", "comparison", "participant", "comparison"],
                      "weight": [1, 0.5, 0.5, 1, 1.0], "event": [True, True, False, False, True]})
    rr = matched_risk_ratio(m)
    # participants 1/2; comparison (0.5*1 + 0.5*0 + 1*1) / 2 = 0.75 -> 0.5 / 0.75
    assert rr.risk_ratio == pytest.approx(2 / 3) and rr.comparison_risk == pytest.approx(0.75)
    assert (rr.n_sets, rr.n_participant_events, rr.n_comparison, rr.n_comparison_people) == (2, 1, 3, 3)


def test_risk_ratio_undefined_cases():
    m = pd.DataFrame({"set_id": [0, 0, 1, 1], "person_key": ["t1", "c1", "t2", "c2"],
                      "role": ["participant", "comparison"] * 2, "weight": 1.0, "event": [False, True, False, False]})
    assert matched_risk_ratio(m).risk_ratio == 0.0 and np.isnan(matched_risk_ratio(m).ci_low)
    none = m.assign(event=[True, False, False, False])
    assert np.isnan(matched_risk_ratio(none).risk_ratio)  # no comparison events: infinite ratio


def test_planted_ratio_is_covered_on_large_samples():
    """Sanity of the interval: 200 replicates of a true ratio 0.75 cover it about 95% of the time."""
    covered = 0
    for seed in range(200):
        r = matched_risk_ratio(_members(seed, n_sets=150, p1=0.3, p0=0.4))
        covered += r.ci_low <= 0.75 <= r.ci_high
    assert 0.90 <= covered / 200 <= 0.99


def test_risk_ratio_table_groups_charges_and_windows():
    m = _members(5)
    out = m.assign(program_id=np.where(m["set_id"] < 30, "a", "b"), **{
        f"has_followup_{w}m": True for w in (6, 12)}, **{
        f"is_rearrested_{c}_{w}m": m["event"] for c in ("any", "drug") for w in (6, 12)})
    table = risk_ratio_table(out)
    assert len(table) == 2 * 2 * 2 and set(table["program_id"]) == {"a", "b"}
    assert risk_ratio_table(out, by=None)["n_sets"].iloc[0] == 60


def test_kaplan_meier_hand_computed():
    days = pd.Series([1.0, 2, 2, 3, 4])
    event = pd.Series([True, True, False, True, False])
    c = km_curve(days, event).set_index("day")
    # S(1) = 4/5; S(2) = 0.8 * 3/4 (one censored at 2); S(3) = 0.6 * 1/2
    assert c.loc[1, "survival"] == pytest.approx(0.8)
    assert c.loc[2, "survival"] == pytest.approx(0.6)
    assert c.loc[3, "survival"] == pytest.approx(0.3)
    assert c.loc[3, "n_at_risk"] == 2


def test_kaplan_meier_integer_weights_equal_repeated_rows():
    days, event = pd.Series([5.0, 8, 9, 12]), pd.Series([True, False, True, True])
    weighted = km_curve(days, event, pd.Series([2.0, 1, 3, 1]))
    repeated = km_curve(days.repeat([2, 1, 3, 1]).reset_index(drop=True),
                        event.repeat([2, 1, 3, 1]).reset_index(drop=True))
    np.testing.assert_allclose(weighted["survival"], repeated["survival"])


def test_curves_per_role_and_survival_at():
    m = _members(9)
    outcomes = m.assign(program_id="a", days_to_any=np.where(m["event"], 100, np.nan),
                        days_to_drug=np.nan, followup_days=400)
    curves = rearrest_curves(outcomes)
    assert set(curves["role"]) == {"participant", "comparison"}
    at = survival_at(curves, 200).set_index("role")["survival"]
    p = 1 - m.loc[m["role"] == "participant", "event"].mean()
    assert at["participant"] == pytest.approx(p)


def test_wilson_interval_hand_computed():
    t = rate_table(pd.DataFrame({"g": ["x"] * 10, "ok": [True, True] + [False] * 8}), ["g"], "ok")
    # Wilson 95% for 2/10: (0.0567, 0.5098)
    assert t["rate"].iloc[0] == 0.2
    assert t["rate_ci_low"].iloc[0] == pytest.approx(0.05668, abs=1e-4)
    assert t["rate_ci_high"].iloc[0] == pytest.approx(0.50984, abs=1e-4)

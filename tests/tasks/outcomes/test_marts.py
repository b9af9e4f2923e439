"""Small-cell suppression and the analyst-facing outcome frames: no person keys, no counts in 1..threshold."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tasks.outcomes.marts import PROGRAM_MART_COLUMNS, area_month_treatment_mart, curve_mart, program_outcomes_mart
from tasks.outcomes.suppression import has_small_cells, suppress_small_cells

THRESHOLD = 10
COUNT_COLUMNS = ("n_participants", "n_sets", "n_participant_events", "n_comparison_people", "n_comparison_events",
                 "n_uptake_participants", "n_admitted", "n_discharges", "n_completed")


@pytest.mark.parametrize("value, hidden", [(0, False), (1, True), (10, True), (11, False), (None, False)],
                         ids=["zero-shown", "one", "threshold", "above", "null"])
def test_rule_on_single_counts(value, hidden):
    f = pd.DataFrame({"n": pd.array([value], dtype="Int64"), "rate": [0.5]})
    out = suppress_small_cells(f, ["n"], THRESHOLD, dependents={"n": ["rate"]})
    assert out["n"].isna().iloc[0] == (hidden or value is None)
    assert pd.isna(out["rate"].iloc[0]) == hidden and out["is_suppressed"].iloc[0] == hidden


def test_complements_are_suppressed_too():
    f = pd.DataFrame({"n": [50, 50], "k": [45, 20]})
    out = suppress_small_cells(f, ["n", "k"], THRESHOLD, complements=[("n", "k")])
    assert out["n"].isna().tolist() == [True, False] and out["k"].isna().tolist() == [True, False]
    assert suppress_small_cells(f, ["n"], 0)["is_suppressed"].tolist() == [False, False]
    with pytest.raises(ValueError):
        suppress_small_cells(f, ["n"], -1)


def _risk_ratios(rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    for program in ("p1", "p2", "p3"):
        for charge in ("any", "drug"):
            for w in (6, 12):
                n = int(rng.integers(3, 80))
                a = int(rng.integers(0, n + 1))
                rows.append({"program_id": program, "charge": charge, "window_months": w, "risk_ratio": 0.8,
                             "ci_low": 0.6, "ci_high": 1.1, "n_sets": n, "n_participant_events": a,
                             "n_comparison": 4 * n, "n_comparison_people": 3 * n,
                             "n_comparison_events": int(rng.integers(0, 3 * n)), "participant_risk": a / n,
                             "comparison_risk": 0.4})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("seed", range(5))
def test_program_mart_never_shows_a_small_cell_or_a_person_key(seed):
    rng = np.random.default_rng(seed)
    part = pd.DataFrame({"person_key": [f"k{i}" for i in range(150)], "program_id": rng.choice(["p1", "p2", "p3"], 150)})
    uptake = pd.DataFrame({"program_id": ["p1", "p2", "p3"], "n_participants": [40, 8, 60], "n_admitted": [5, 2, 30],
                           "uptake": [0.125, 0.25, 0.5]})
    completion = pd.DataFrame({"program_id": ["p1", "p3"], "n_discharges": [12, 40], "n_completed": [3, 35],
                               "completion_rate": [0.25, 0.875]})
    mart = program_outcomes_mart(_risk_ratios(rng), part, uptake, completion, THRESHOLD, True)
    assert list(mart.columns) == list(PROGRAM_MART_COLUMNS)
    assert not any("key" in c for c in mart.columns)
    assert not has_small_cells(mart, COUNT_COLUMNS, THRESHOLD)
    small = mart["n_participant_events"].isna() | mart["n_sets"].isna()
    assert mart.loc[small, "risk_ratio"].isna().all() and mart.loc[small, "participant_risk"].isna().all()
    assert mart["is_synthetic"].all()


def test_area_mart_suppresses_and_hides_people():
    rng = np.random.default_rng(1)
    n = 400
    adm = pd.DataFrame({"admission_id": [f"a{i}" for i in range(n)], "client_key": [f"k{i % 150}" for i in range(n)],
                        "admitted_on": pd.Timestamp("2016-01-01") + pd.to_timedelta(rng.integers(0, 900, n), unit="D"),
                        "neighborhood_id": rng.choice(["1", "2", "3"], n, p=[0.8, 0.15, 0.05]),
                        "referral_source": pd.array(rng.choice([1, 7], n), dtype="Int64")})
    dis = adm[["admission_id", "client_key"]].assign(
        discharged_on=adm["admitted_on"] + pd.Timedelta(days=30),
        is_completed=pd.array(rng.random(n) < 0.4, dtype="boolean"))
    from tasks.outcomes.treatment import return_to_treatment

    returns = return_to_treatment(adm, dis, pd.Timestamp("2018-11-12"))
    mart = area_month_treatment_mart(adm, dis, returns, THRESHOLD, True)
    counts = [c for c in mart.columns if c.startswith("n_")]
    assert not has_small_cells(mart, counts, THRESHOLD) and not any("key" in c for c in mart.columns)
    assert mart.loc[mart["neighborhood_id"] == "1", "n_admissions"].notna().all()  # big area, yearly rows
    assert mart.loc[mart["neighborhood_id"] == "3", "cj_share"].isna().all()


def test_curve_mart_stops_where_few_are_at_risk():
    curves = pd.DataFrame({"program_id": "p", "role": "participant", "charge": "any",
                           "day": [0.0, 20, 45, 70, 100], "survival": [1, 0.9, 0.8, 0.7, 0.6],
                           "ci_low": 0.5, "ci_high": 1.0, "n_at_risk": [40, 30, 20, 11, 5], "n_events": 1})
    out = curve_mart(curves, THRESHOLD, grid_days=30, max_days=120)
    assert out["day"].tolist() == [0, 30, 60] and (out["n_at_risk"] > THRESHOLD).all()
    assert out["survival"].tolist() == [1.0, 0.9, 0.8] and "n_events" not in out.columns

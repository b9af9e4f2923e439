"""Tests for tasks.trends.impact: every registered estimator's rows, the headline row per program,
its sentence, FDR, spillover exclusion and "cannot tell" on thin data.

Replaced: the ITS-with-HAC and single-area DiD tests went with those methods (they were replaced
by the comparative ITS, synthetic control and staggered DiD, tests/tasks/test_impact_methods.py).
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tasks.trends.impact import (HEADLINE, PROGRAM_IMPACT_COLUMNS, estimate_program_impact, impact_sentence,
                                 impact_summary, program_impact)
from tasks.trends.impact_panel import adjacent_areas, impact_panel
from tasks.trends.registry import TrendInputs, methods

MONTHS = pd.date_range("2015-01-01", "2018-10-01", freq="MS")  # 46 months


def grid_hoods(n=25, width=5):
    """Unit squares on a width x (n / width) grid: area i touches its 8 neighbours."""
    rows = []
    for i in range(n):
        x, y = i % width, i // width
        rows.append({"neighborhood_id": str(i + 1), "name": f"Area {i + 1}", "population": 20_000.0,
                     "geometry_wkt": f"POLYGON(({x} {y}, {x + 1} {y}, {x + 1} {y + 1}, {x} {y + 1}, {x} {y}))"})
    return pd.DataFrame(rows)


def monthly(n=25, seed=1, effects=None, scale=40.0):
    """Poisson counts on a shared path; ``effects``: {area id: (start month, rate ratio)}."""
    rng = np.random.default_rng(seed)
    t = np.arange(len(MONTHS))
    path = (1 + 0.15 * np.sin(2 * np.pi * t / 12)) * np.where(t >= 12, 0.7, 1.0)
    size = rng.gamma(6, scale / 6, n)
    lam = np.outer(path, size)
    for area, (start, rr) in (effects or {}).items():
        lam[MONTHS >= pd.Timestamp(start), int(area) - 1] *= rr
    ids = [str(i + 1) for i in range(n)]
    return pd.DataFrame({"neighborhood_id": np.tile(ids, len(MONTHS)), "period_start": np.repeat(MONTHS, n),
                         "value": rng.poisson(lam).ravel().astype(float)})


def inputs(series, programs, **params):
    return TrendInputs(metric="drug_incidents", series={"month": series}, neighborhoods=grid_hoods(),
                       programs=programs, params=params)


PROGRAMS = pd.DataFrame({
    "program_id": ["p1", "p2", "p3", "p4"],
    "neighborhood_id": ["7", "7", "19", None],
    "started_on": pd.to_datetime(["2016-06-06", "2017-03-13", "2016-11-07", "2016-03-01"]),
})


def test_registry_holds_the_three_impact_methods_and_one_headline():
    names = {m.name: m for m in methods("impact")}
    assert set(names) == {"comparative_its", "synthetic_control", "staggered_did"}
    assert [m.name for m in names.values() if m.headline] == ["comparative_its"]


def test_rows_for_every_method_plus_one_headline_per_program():
    got = estimate_program_impact(inputs(monthly(effects={"7": ("2016-06-01", 0.6)}), PROGRAMS))
    assert list(got.columns) == PROGRAM_IMPACT_COLUMNS
    per = got.groupby("program_id")["method"].apply(sorted).to_dict()
    assert per["p1"] == ["comparative_its", HEADLINE, "staggered_did", "synthetic_control"]
    head = got[got["method"] == HEADLINE].set_index("program_id")
    assert list(head.index) == ["p4", "p1", "p3", "p2"]  # by start date
    p1 = json.loads(head.loc["p1", "details"])
    assert p1["source_method"] == "comparative_its" and not p1["exploratory"]
    assert head.loc["p1", "ci_low"] < 0.6 < head.loc["p1", "ci_high"] < 1
    assert p1["n_distinct_placebos"] == 28 and p1["min_attainable_p"] == pytest.approx(1 / 29)
    assert "q_value" in p1 and p1["sentence"].startswith("Drug incidents in Area 7 ran")
    # The citywide program cannot be compared: it says so.
    p4 = json.loads(head.loc["p4", "details"])
    assert np.isnan(head.loc["p4", "estimate"]) and p4["cannot_tell"] and "citywide" in p4["sentence"]


def test_exploratory_method_is_never_the_headline():
    got = estimate_program_impact(inputs(monthly(seed=2), PROGRAMS))
    sc = got[got["method"] == "synthetic_control"]["details"].map(json.loads)
    assert all(d["exploratory"] for d in sc)
    sources = {json.loads(d)["source_method"] for d in got.loc[got["method"] == HEADLINE, "details"]}
    assert "synthetic_control" not in sources


def test_second_program_in_an_area_says_it_cannot_be_separated():
    got = estimate_program_impact(inputs(monthly(seed=3), PROGRAMS))
    p2 = got[got["program_id"] == "p2"].set_index("method")
    did = json.loads(p2.loc["staggered_did", "details"])
    assert did["cannot_separate_from"] == ["p1"] and did["start_period"] == "2016-06-01"
    head = json.loads(p2.loc[HEADLINE, "details"])
    assert head["earlier_programs_in_area"] == ["p1"] and "after p1 in the same area" in head["sentence"]


def test_program_areas_and_their_neighbours_are_left_out_of_the_comparison():
    panel = impact_panel(inputs(monthly(), PROGRAMS))
    assert panel.treated == {"7", "19"}
    # Area 7 sits at (1, 1), area 19 at (3, 3) on the 5 x 5 grid.
    assert panel.spillover == {"1", "2", "3", "6", "8", "11", "12", "13", "14", "15", "18", "20", "23", "24", "25"}
    assert set(panel.pool) == {"4", "5", "9", "10", "16", "17", "21", "22"}
    assert adjacent_areas(grid_hoods(), ["1"]) == {"1", "2", "6", "7"}
    kept = impact_panel(inputs(monthly(), PROGRAMS, spillover="none"))
    assert len(kept.pool) == 23


def test_thin_data_cannot_tell():
    sparse = monthly(scale=0.15, seed=4)  # about 0.1 events per area-month: an overdose-death-like metric
    got = estimate_program_impact(inputs(sparse, PROGRAMS.iloc[:1]))
    head = json.loads(got.loc[got["method"] == HEADLINE, "details"].item())
    assert head["cannot_tell"] and head["sentence"].startswith("Cannot tell")


def test_program_outside_the_series_keeps_a_reason_row():
    late = pd.DataFrame({"program_id": ["late"], "neighborhood_id": ["7"], "started_on": [pd.Timestamp("2020-01-06")]})
    got = estimate_program_impact(inputs(monthly(), late))
    assert got["estimate"].isna().all()
    assert all("needs at least" in json.loads(d)["skipped"] for d in got["details"])


def test_no_programs_gives_an_empty_frame():
    assert estimate_program_impact(inputs(monthly(), PROGRAMS.iloc[:0])).empty


def test_program_impact_keeps_the_flows_call_working():
    hoods = grid_hoods()[["neighborhood_id", "population"]]
    got = program_impact(PROGRAMS, monthly(), hoods, metric="drug_incidents")
    assert list(got.columns) == PROGRAM_IMPACT_COLUMNS and (got["method"] == HEADLINE).sum() == 4
    # Without boundaries no area is left out for adjacency.
    its = json.loads(got.loc[(got["program_id"] == "p1") & (got["method"] == "comparative_its"), "details"].item())
    assert its["excluded_adjacent_areas"] == [] and its["n_comparison_areas"] == 23


def sentence_row(**over):
    info = {"n_distinct_placebos": 28, "min_attainable_p": 1 / 29, "alpha": 0.05, "significant_after_fdr": True,
            "calibration": {"power": 0.16}, **over.pop("info", {})}
    return {"estimate": 0.8, "ci_low": 0.7, "ci_high": 0.92, "p_value": 1 / 29, "details": info, **over}


@pytest.mark.parametrize(("row", "expected"), [
    (sentence_row(), "Drug incidents in Austin ran 20% lower against the comparison areas after the start "
                     "(95% interval 0.70 to 0.92; p = 0.034; with 28 placebo starts no p below 0.034 is possible)"),
    (sentence_row(estimate=0.95, ci_low=0.8, ci_high=1.2, p_value=0.4),
     "The change in drug incidents in Austin after the start (5% lower against the comparison areas, 95% interval "
     "0.80 to 1.20; p = 0.4; with 28 placebo starts no p below 0.034 is possible) does not stand out from the "
     "area's usual ups and downs. This method detects a 20% fall only about 16% of the time"),
    (sentence_row(ci_low=0.3, ci_high=2.5, p_value=0.5), "Cannot tell: drug incidents in Austin after the start are "
                                                          "compatible with anything from 70% lower to 150% higher"),
    (sentence_row(info={"skipped": "a citywide program has no comparison areas"}),
     "Cannot tell: a citywide program has no comparison areas."),
    (sentence_row(info={"significant_after_fdr": False}), "not significant after false-discovery control"),
], ids=["significant", "not-significant", "too-wide", "skipped", "fdr"])
def test_impact_sentence(row, expected):
    assert expected in impact_sentence(row, "Austin", "drug_incidents")


def test_impact_summary_counts_against_chance():
    rows = pd.DataFrame({"method": [HEADLINE] * 3, "p_value": [0.01, 0.3, np.nan],
                         "details": [json.dumps({"significant_after_fdr": False})] * 3})
    assert impact_summary(rows, synthetic=True) == (
        "1 of 2 programs show p < 0.05; about 0.1 would by chance alone if no program changed anything. 0 remain "
        "after Benjamini-Hochberg false-discovery control. The demo programs are synthetic and have no built-in "
        "effect, so every 'significant' one here is chance.")


def test_too_few_placebos_cannot_tell():
    row = sentence_row(info={"n_distinct_placebos": 11, "min_attainable_p": 1 / 12})
    assert impact_sentence(row, "Austin", "drug_incidents").startswith(
        "Cannot tell: with 11 placebos the smallest possible p is 0.083, so no result could pass a 0.05 test")


def test_short_series_headline_cannot_tell():
    short = monthly()
    short = short[short["period_start"] >= "2016-01-01"]  # 34 months: 17 candidate starts from 12..28
    late = pd.DataFrame({"program_id": ["p"], "neighborhood_id": ["19"], "started_on": [pd.Timestamp("2017-06-05")]})
    got = estimate_program_impact(inputs(short, late))
    head = json.loads(got.loc[got["method"] == HEADLINE, "details"].item())
    assert head["min_attainable_p"] == pytest.approx(1 / 17) and head["cannot_tell"]

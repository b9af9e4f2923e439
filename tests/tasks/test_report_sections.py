"""Each report section on hand-made frames: alerts (episodes), scan clusters, program impact, trends."""
from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
from shapely.geometry import box

from tasks.report.compose import section_modules
from tasks.report.sections import SECTIONS, ReportContext
from tasks.report.sections import alerts, program_impact, scan_clusters, trends

IDS = [str(i) for i in range(1, 5)]


def ctx(label="ward", plural="wards") -> ReportContext:
    cells = [box(-90.3 + 0.01 * (k % 2), 38.6 + 0.01 * (k // 2), -90.29 + 0.01 * (k % 2), 38.61 + 0.01 * (k // 2))
             for k in range(4)]
    hoods = pd.DataFrame({"neighborhood_id": IDS, "name": [f"Ward {i}" for i in IDS], "population": 1000.0,
                          "geometry_wkt": [c.wkt for c in cells]})
    return ReportContext(city="Testville", area_label=label, area_label_plural=plural, population_source=None,
                         timezone="UTC", neighborhoods=hoods, projected_crs="EPSG:3857")


def episode(nid, method, start, end, headline=True, ongoing=False, grain="day", area_ids=None, obs=9.0, exp=3.0,
            kind="spike", detectors=None):
    return {"episode_id": f"{method}|m|{grain}|{nid}|{start}", "neighborhood_id": nid, "area_ids": area_ids or (nid or ""),
            "metric": "drug_incidents", "grain": grain, "method": method, "kind": kind, "is_headline": headline,
            "detectors": detectors or method, "start_period": pd.Timestamp(start), "end_period": pd.Timestamp(end),
            "peak_period": pd.Timestamp(start), "n_periods": 2, "observed": obs, "expected": exp,
            "peak_observed": obs, "peak_expected": exp, "max_score": 1.0, "min_p_value": np.nan, "is_ongoing": ongoing}


def test_sections_are_listed_and_each_module_defines_its_section():
    assert {"alerts", "scan_clusters", "program_impact", "trends"} <= set(SECTIONS)
    assert [m.SECTION.key for m in section_modules()][:4] == ["alerts", "scan_clusters", "program_impact", "trends"]


def test_alerts_counts_episodes_lists_the_latest_and_maps_open_ones():
    eps = pd.DataFrame([
        episode("1", "glm_baseline", "2018-11-01", "2018-11-12", ongoing=True, detectors="glm_cusum,glm_spike"),
        episode("R:2+3", "glm_pooled", "2018-10-01", "2018-10-03", area_ids="2,3"),
        episode("1", "ears", "2018-11-01", "2018-11-02", headline=False, detectors="ears_c1,ears_c2,ears_c3"),
    ])
    html = alerts.render({"episodes": eps}, ctx())
    assert "<b>2 alert episodes</b>" in html and "<b>1 open now</b>" in html
    assert "ears (daily): 1 episodes" in html  # the reference, counted apart from the decision
    rows = re.findall(r"<tr>.*?</tr>", html)[1:]
    assert len(rows) == 2 and "Ward 1" in rows[0] and "glm_cusum,glm_spike" in rows[0] and "open" in rows[0]
    assert "Ward 2 + Ward 3" in rows[1]
    assert html.count("<path ") == 4 and html.count('fill="#d7301f"') == 2  # area 1 + the legend swatch
    assert "per ward per year" in html and "community area" not in html
    assert "<script" not in html.lower()


def test_alerts_without_episodes_says_so():
    assert "No alert episodes" in alerts.render({"episodes": pd.DataFrame([episode("1", "x", "2018-01-01",
                                                                                     "2018-01-01")]).iloc[0:0]}, ctx())


def test_scan_clusters_map_members_and_table():
    details = {"rank": 1, "member_ids": ["1", "2"], "observed": 20, "expected": 8.0, "recurrence_interval_days": 500}
    row = {"neighborhood_id": "1", "metric": "drug_incidents", "period_start": pd.Timestamp("2018-11-05"),
           "period_end": pd.Timestamp("2018-11-12"), "method": "stp_scan", "statistic": 9.1, "p_value": 0.002,
           "score": 2.5, "level": "alarm", "details": json.dumps(details), "grain": "day"}
    other = {**row, "method": "glm_spike"}
    data = {"clusters": scan_clusters._cluster_rows(pd.DataFrame([row, other]))}
    assert len(data["clusters"]) == 1
    html = scan_clusters.render(data, ctx())
    assert "<b>1 cluster</b> reported, 1 reaching the alarm rule" in html
    assert html.count('fill="#99000d"') == 3  # two member wards + the legend swatch
    assert "Ward 1, Ward 2" in html and "0.002" in html and "2.50" in html
    assert "up to 10 adjacent wards" in html


def impact_rows(p_values):
    rows = []
    for k, p in enumerate(p_values):
        base = {"program_id": f"demo-{k}", "neighborhood_id": IDS[k % 4], "started_on": pd.Timestamp("2016-06-01"),
                "estimate": 0.9, "ci_low": 0.7, "ci_high": 1.2, "p_value": p, "n_pre": 17, "n_post": 19,
                "metric": "drug_incidents"}
        info = {"n_distinct_placebos": 28, "min_attainable_p": 1 / 29, "alpha": 0.05}
        rows.append({**base, "method": "comparative_its", "details": json.dumps(info)})
        rows.append({**base, "method": "staggered_did", "details": json.dumps({"exploratory": True})})
        rows.append({**base, "method": "headline", "details": json.dumps(
            {**info, "source_method": "comparative_its", "q_value": min(1.0, p * len(p_values)),
             "significant_after_fdr": p * len(p_values) < 0.05, "sentence": f"Sentence {k}."})})
    return pd.DataFrame(rows)


def test_program_impact_one_headline_per_program_with_resolution_fdr_and_chance_note():
    programs = pd.DataFrame({"program_id": [f"demo-{k}" for k in range(4)], "name": [f"P{k}" for k in range(4)],
                             "program_type": "outreach", "is_synthetic": True})
    html = program_impact.render({"impact": impact_rows([0.01, 0.3, 0.5, 0.9]), "programs": programs}, ctx())
    rows = re.findall(r"<tr>.*?</tr>", html)[1:]
    assert len(rows) == 4  # one per program, not one per method
    assert all("comparative_its" in r and "28 placebos, smallest p 0.034" in r for r in rows)
    assert "Sentence 0." in rows[0] and "0.04" in rows[0]  # q = 0.01 x 4
    assert "1 of 4 programs show p &lt; 0.05; about 0.2 would by chance alone" in html
    assert "about 1 in 20 of them significant by chance" in html and "SYNTHETIC" in html
    assert "exploratory: staggered_did" in html or "staggered_did (" in html
    assert "<th class=''>ward</th>" in html


def test_program_impact_real_programs_have_no_synthetic_note():
    programs = pd.DataFrame({"program_id": ["demo-0"], "name": ["P0"], "program_type": "x", "is_synthetic": False})
    html = program_impact.render({"impact": impact_rows([0.2]), "programs": programs}, ctx())
    assert "SYNTHETIC" not in html and "1 in 20" not in html


def test_trends_section_uses_the_city_language():
    def mk(nid, level, score):
        return {"neighborhood_id": nid, "metric": "drug_incidents", "period_start": pd.Timestamp("2015-01-01"),
                "period_end": pd.Timestamp("2017-12-31"), "method": "seasonal_mann_kendall", "statistic": -3.0,
                "p_value": 0.003, "score": score, "level": level, "details": json.dumps({"pct_per_year": -10.0}),
                "grain": "month"}
    rows = pd.DataFrame([mk(None, "decreasing", -50.0), mk("1", "increasing", 4.0), mk("2", "no_trend", 0.1)])
    html = trends.render({"trends": trends._trend_rows(rows, "drug_incidents"), "metric": "drug_incidents"},
                         ctx("neighbourhood", "neighbourhoods"))
    assert "Citywide" in html and "Ward 1" in html and "Ward 2" not in html
    assert "Neighbourhoods: 0 decreasing, 1 increasing, 1 without" in html and "community area" not in html

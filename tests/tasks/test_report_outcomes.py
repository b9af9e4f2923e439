"""The outcomes report section on hand-made mart frames: finding, KM SVG, badge, benchmark table."""
from __future__ import annotations

import re

import pandas as pd

from tasks.report.sections import SECTIONS, ReportContext
from tasks.report.sections.outcomes import SECTION, finding, km_svg

CTX = ReportContext(city="Chicago", area_label="community area", area_label_plural="community areas",
                    population_source=None, timezone="America/Chicago",
                    neighborhoods=pd.DataFrame(columns=["neighborhood_id", "name"]), projected_crs="EPSG:3435")


def programs(rr_a=(0.70, 0.55, 0.90), rr_b=(1.02, 0.80, 1.30), synthetic=True) -> pd.DataFrame:
    rows = []
    for pid, name, rr in (("demo-001", "Support group", rr_a), ("demo-002", "Diversion", rr_b)):
        for w in (6, 12):
            rows.append({"program_id": pid, "program_name": name, "charge": "any", "window_months": w,
                         "n_participants": 120, "n_sets": 80, "participant_risk": 0.3, "comparison_risk": 0.4,
                         "risk_ratio": rr[0], "ci_low": rr[1], "ci_high": rr[2], "uptake": 0.25,
                         "completion_rate": None, "is_suppressed": True, "is_synthetic": synthetic})
    return pd.DataFrame(rows)


def curves() -> pd.DataFrame:
    rows = []
    for role, step in (("participant", 0.05), ("comparison", 0.08)):
        for i, day in enumerate(range(0, 400, 30)):
            s = 1 - step * i / 2
            rows.append({"program_id": "demo-001", "role": role, "charge": "any", "day": day, "survival": s,
                         "ci_low": s - 0.05, "ci_high": min(1.0, s + 0.05), "n_at_risk": 80 - i, "is_synthetic": True})
    return pd.DataFrame(rows)


BENCH = pd.DataFrame({"referral_group": ["criminal_justice", "other", "all"], "n_discharges": [190, 689, 1000],
                      "completion_rate": [0.43, 0.36, 0.42], "completion_rate_ci_low": [0.36, 0.32, 0.39],
                      "completion_rate_ci_high": [0.50, 0.39, 0.45], "n_arrested_at_admission": [14, 28, 42],
                      "arrests_reduced_rate": [0.79, 0.71, 0.74], "arrests_reduced_rate_ci_low": [0.52, 0.53, 0.59],
                      "arrests_reduced_rate_ci_high": [0.92, 0.85, 0.85]})


def test_section_is_registered():
    assert "outcomes" in SECTIONS and SECTION.key == "outcomes"


def test_finding_names_the_program_whose_interval_lies_below_one():
    text = finding(programs())
    assert text.startswith("Participants of Support group were re-arrested less often within 12 months")
    assert "0.70" in text and "0.55–0.90" in text and "for 1 other program the interval includes no difference" in text


def test_finding_says_when_no_program_differs_and_when_nothing_was_estimated():
    assert finding(programs(rr_a=(0.9, 0.7, 1.1))).startswith("No program's participants differed clearly")
    empty = programs().assign(risk_ratio=None, ci_low=None, ci_high=None)
    assert "Too few matched participants" in finding(empty)


def test_km_svg_draws_one_step_curve_and_band_per_role():
    svg = km_svg(curves(), "Support group")
    assert svg.startswith("<svg") and svg.count("<polyline") == 2 and svg.count("<polygon") == 2
    assert "<script" not in svg


def test_render_has_badge_curves_and_benchmark_and_no_person_keys():
    html = SECTION.render({"programs": programs(), "curves": curves(), "benchmark": BENCH}, CTX)
    assert "SYNTHETIC" in html and html.count("<svg") == 1
    assert "Criminal justice referral" in html and "43% [36%, 50%]" in html
    assert "0.70 [0.55, 0.90]" in html
    assert not re.search(r"\b[0-9a-f]{64}\b", html)


def test_real_benchmark_alone_has_no_badge():
    empty = programs().iloc[0:0]
    html = SECTION.render({"programs": empty, "curves": curves().iloc[0:0], "benchmark": BENCH}, CTX)
    assert "SYNTHETIC" not in html and "TEDS-D" in html

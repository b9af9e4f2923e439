"""Tests for tasks.report.render and tasks.report.svg: computed headlines, maps, charts, escaping, offline HTML."""
from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from tasks.report.render import ReportData, render_report
from tasks.report.findings import findings
from tasks.report.sections import ReportContext
from tasks.report.svg import MapShapes, legend_origin, line_chart, nice_ticks, project_shapes
from tasks.trends.prepare import Span

IDS = [str(i) for i in range(1, 10)]
NAMES = {i: f"Area {i}" for i in IDS} | {"5": "O'Hare <& Co>"}
MONTHS = pd.date_range("2015-01-01", "2017-12-01", freq="MS")
WEEKS = pd.date_range("2015-01-05", "2017-12-25", freq="W-MON")


def lattice() -> pd.DataFrame:
    """3 x 3 squares of 0.01 degree near Chicago, ids 1..9 row by row."""
    cells = [box(-87.7 + 0.01 * c, 41.8 + 0.01 * r, -87.69 + 0.01 * c, 41.81 + 0.01 * r) for r in range(3)
             for c in range(3)]
    return pd.DataFrame({"neighborhood_id": IDS, "name": [NAMES[i] for i in IDS], "population": 10_000.0,
                         "geometry_wkt": [g.wkt for g in cells]})


def series(starts, per_year: dict[int, float]) -> pd.DataFrame:
    """Citywide rows (value by year) and each area a ninth of it."""
    city = pd.DataFrame({"neighborhood_id": None, "period_start": starts,
                         "value": [per_year[t.year] for t in starts]})
    areas = [city.assign(neighborhood_id=i, value=city["value"] / 9) for i in IDS]
    return pd.concat([city, *areas], ignore_index=True)


def signal(nid, method, level, start, end, statistic=0.0, p=np.nan, score=0.0, grain="month", metric="drug_incidents",
           **details):
    return {"neighborhood_id": nid, "metric": metric, "period_start": pd.Timestamp(start),
            "period_end": pd.Timestamp(end), "method": method, "statistic": statistic, "p_value": p, "score": score,
            "level": level, "details": json.dumps(details), "grain": grain, "computed_at": pd.Timestamp("2026-01-01")}


def signals() -> pd.DataFrame:
    rows = [signal(None, "seasonal_mann_kendall", "decreasing", "2015-01-01", "2017-12-31", -4.1, 0.00004, -600.0,
                   pct_per_year=-50.0)]
    rows += [signal(i, "seasonal_mann_kendall", "decreasing", "2015-01-01", "2017-12-31", -3.0, 0.003, -60.0,
                    pct_per_year=-40.0) for i in IDS]
    rows += [signal(i, "emerging_hotspot", "intensifying_hot_spot" if i == "5" else "no_pattern", "2015-01-01",
                    "2017-12-31", 1.0, 0.3, 2.5 if i == "5" else 0.0) for i in IDS]
    # The headline detector (glm_baseline) and the reference (EARS) on the same citywide and area week.
    rows += [signal(None, "glm_spike", "alarm", "2016-03-07", "2016-03-13", 6.0, p=1e-6, score=3.0, grain="week",
                    value=140.0, expected=50.0),
             signal("5", "glm_cusum", "alarm", "2016-03-07", "2016-03-13", 5.0, score=2.0, grain="week",
                    value=30.0, expected=6.0)]
    rows += [signal(None, "ears_c1", "alarm", "2016-03-07", "2016-03-13", 5.0, score=2.0, grain="week",
                    value=140.0, baseline_mean=50.0),
             signal("5", "ears_c1", "alarm", "2016-03-07", "2016-03-13", 4.0, score=1.0, grain="week",
                    value=30.0, baseline_mean=6.0),
             signal("5", "ears_c3", "alarm", "2016-03-08", "2016-03-08", 2.5, score=0.5, grain="day")]
    return pd.DataFrame(rows)


def impact() -> pd.DataFrame:
    base = {"program_id": "demo-001", "neighborhood_id": "5", "started_on": pd.Timestamp("2016-06-06"),
            "metric": "drug_incidents", "computed_at": pd.Timestamp("2026-01-01"), "estimate": 0.81, "ci_low": 0.66,
            "ci_high": 0.99, "p_value": 0.04, "n_pre": 17, "n_post": 19}
    its = {"n_distinct_placebos": 28, "min_attainable_p": 1 / 29, "alpha": 0.05, "exploratory": False}
    return pd.DataFrame([
        {**base, "method": "comparative_its", "details": json.dumps(its)},
        {**base, "method": "synthetic_control", "estimate": 1.30, "ci_low": 1.10, "ci_high": 1.52, "p_value": 0.01,
         "details": json.dumps({"exploratory": True})},
        {**base, "method": "headline", "details": json.dumps({**its, "source_method": "comparative_its",
                                                              "q_value": 0.04, "significant_after_fdr": True,
                                                              "sentence": "Drug incidents ran 19% lower."})},
        {**base, "program_id": "cpl-x", "neighborhood_id": None, "started_on": pd.Timestamp("2019-01-01"),
         "method": "not_estimated", "estimate": np.nan, "ci_low": np.nan, "ci_high": np.nan, "p_value": np.nan,
         "n_pre": None, "n_post": None, "details": json.dumps({"skipped": "library branch: door counts"})},
    ])


def quality() -> dict[str, pd.DataFrame]:
    return {
        "batches": pd.DataFrame([{"source": "police_chicago", "entity": "incidents", "n_batches": 2, "n_failed": 0,
                                  "n_validation_passed": 1, "rows_read": 1000, "rows_loaded": 990,
                                  "rows_quarantined": 10}]),
        "quarantine": pd.DataFrame([{"entity": "incidents", "reason": "offense code (IUCR) is not in the code table",
                                     "n_rows": 10}]),
        "precision": pd.DataFrame({"geocode_precision": ["point", "area_label"], "n_incidents": [980, 10]}),
    }


def report_data(**changes) -> ReportData:
    values = dict(
        neighborhoods=lattice(), signals=signals(), impact=impact(),
        programs=pd.DataFrame({"program_id": ["demo-001", "cpl-x"], "name": ["Recovery Circle", "Branch"],
                               "program_type": ["support_group", "library"], "is_synthetic": [True, False]}),
        weekly=series(WEEKS, {2015: 100.0, 2016: 50.0, 2017: 40.0}),
        monthly=series(MONTHS, {2015: 400.0, 2016: 200.0, 2017: 180.0}),
        span=Span(pd.Timestamp("2015-01-01"), pd.Timestamp("2017-12-31")), quality=quality(),
        offenses=pd.DataFrame({"is_drug_offense": [True, True, False],
                               "offense_category": ["possession", "sale_delivery", "non_drug"],
                               "n": [70, 30, 900], "n_arrest": [70, 29, 150]}),
        projected_crs="EPSG:3435", generated_at=pd.Timestamp("2026-01-02 03:04"),
        context=ReportContext(city="Chicago", area_label="community area", area_label_plural="community areas",
                              population_source="2010 Census", timezone="America/Chicago", neighborhoods=lattice(),
                              projected_crs="EPSG:3435"),
    )
    return ReportData(**(values | changes))


def test_report_is_one_offline_document_with_two_maps_and_charts():
    html = render_report(report_data())
    lower = html.lower()
    assert lower.startswith("<!doctype html>") and lower.rstrip().endswith("</html>")
    assert "<script" not in lower and "<link" not in lower and "<img" not in lower
    assert "http://" not in lower and "https://" not in lower and "url(" not in lower
    assert html.count("<path ") == 3 * len(IDS)  # hot spots, rates, areas with alert episodes
    assert html.count('class="chart"') == 2  # citywide + the one area with headline alert episodes
    assert html.count('class="alarm"') == 2  # one marker per episode week (not one per rule): citywide and area 5
    assert "Area 1: no pattern" in html and "Area 1: 240.0 per 10,000 (240 incidents)" in html
    assert "2010 Census" in html  # the config's population source, not a hard-coded one


def test_headlines_are_computed_from_the_data():
    text = " ".join(findings(report_data(), NAMES))
    assert "fell 50% from 2015 (4,800) to 2016 (2,400)" in text
    assert "then fell 10% to 2017 (2,160)" in text
    assert "decreasing, Sen's slope −600 incidents/yr" in text and "p &lt; 0.001" in text
    assert "Community areas: 9 decreasing, 0 increasing" in text
    assert "averaged <b>400</b> in the 6 months before Jan 2016 and <b>200</b>" in text
    assert "99.0% of them record an arrest (other incidents: 17%) and 70% are possession" in text
    assert "<b>1 of 9 community areas are hot spots</b>" in text and "11% of the population" in text
    # Episodes, not rows: the citywide week's glm and EARS rows and area 5's rows are 2 headline episodes.
    assert "<b>2 alert episodes</b> from the headline detectors" in text
    assert "peak week of 07 Mar 2016, 140 incidents against 50 expected" in text
    assert "gave 3 episodes from 3 alarm rows" in text
    assert "1 of 1 programs show p &lt; 0.05" in text and "every &#x27;significant&#x27; one here is chance" in text
    assert "1,000 incident rows read, 10 quarantined (1.00%)" in text


def test_names_are_escaped_everywhere():
    html = render_report(report_data())
    assert "O'Hare <&" not in html
    assert "O&#x27;Hare &lt;&amp; Co&gt;" in html


@pytest.mark.parametrize("synthetic, expected", [(True, 1), (False, 0)], ids=["synthetic-banner", "real-no-banner"])
def test_synthetic_programs_are_labelled(synthetic, expected):
    programs = pd.DataFrame({"program_id": ["demo-001"], "name": ["Circle"], "program_type": ["support_group"],
                             "is_synthetic": [synthetic]})
    html = render_report(report_data(programs=programs))
    assert html.count("class='banner'") == expected
    assert ("have no built-in effect: a calibrated method should call about 1 in 20" in html) is synthetic


def test_impact_table_shows_one_headline_per_program_and_skip_reasons():
    html = render_report(report_data())
    rows = [r for r in re.findall(r"<tr>.*?</tr>", html) if "Recovery Circle" in r]
    assert len(rows) == 1  # the headline only; synthetic control is exploratory
    row = rows[0]
    assert "O&#x27;Hare" in row and "comparative_its" in row and "0.81" in row and "0.66 – 0.99" in row
    assert "28 placebos, smallest p 0.034" in row and "Drug incidents ran 19% lower." in row
    assert "1 not estimated: library branch: door counts" in html


@pytest.mark.parametrize("synthetic", [True, False], ids=["synthetic-admissions", "real-admissions"])
def test_admissions_trend_is_shown_without_counts(synthetic):
    adm = pd.DataFrame([signal(None, "seasonal_mann_kendall", "increasing", "2015-01-01", "2017-12-31", 2.5, 0.01,
                               12.0, metric="admissions", mean_per_period=3.0, synthetic=synthetic)])
    data = report_data(signals=pd.concat([signals(), adm], ignore_index=True))
    text = " ".join(findings(data, NAMES))
    badge = " <span class='badge'>SYNTHETIC</span>" if synthetic else ""
    assert f"Treatment admissions{badge}: citywide trend increasing" in text
    assert "mean_per_period" not in text and "3.0" not in text
    html = render_report(data)
    assert ("Drug-response programs and treatment admissions are synthetic" in html) is synthetic


def test_empty_results_still_render():
    empty = signals().iloc[0:0]
    html = render_report(report_data(signals=empty, impact=impact().iloc[0:0], monthly=series(MONTHS[:0], {}),
                                     weekly=series(WEEKS[:0], {})))
    assert "No trend results yet" in html and "No programs in dim_programs" in html
    assert "No alert episodes" in html
    assert html.count("<path ") == 2 * len(IDS)


@pytest.mark.parametrize("top, expected", [(0, [0.0, 1.0]), (7, [0, 2, 4, 6, 8]), (530, [0, 200, 400, 600]),
                                           (95, [0, 20, 40, 60, 80, 100]), (1, [0, 0.2, 0.4, 0.6, 0.8, 1.0])],
                         ids=["zero", "seven", "530", "95", "one"])
def test_nice_ticks(top, expected):
    assert nice_ticks(top) == pytest.approx(expected)


def test_map_is_fitted_and_north_up():
    shapes = project_shapes(lattice(), "EPSG:3435", width=300)
    # 0.01 degree is 1.11 km north-south but 0.83 km east-west at 41.8 N: the lattice is 1.34 x taller than wide
    assert shapes.width == 300 and 385 < shapes.height < 410
    ys = {i: float(re.findall(r"[ML][\d.]+,([\d.]+)", shapes.paths[i])[0]) for i in ("1", "7")}
    assert ys["7"] < ys["1"]  # row 3 (north) is drawn above row 1


@pytest.mark.parametrize("footprint, below", [(box(0, 0, 100, 100), False), (box(0, 0, 400, 300), True)],
                         ids=["empty-corner", "full-map"])
def test_legend_goes_to_an_empty_corner_or_below(footprint, below):
    shapes = MapShapes({}, 400, 300, footprint, {})
    x, y, extra = legend_origin(shapes, 120, 60)
    assert (extra > 0) is below
    if not below:
        assert x > 100 or y > 100


def test_line_chart_marks_only_periods_on_the_series():
    dates = pd.date_range("2016-01-04", periods=10, freq="W-MON")
    markers = pd.DataFrame({"period_start": [dates[3], pd.Timestamp("2030-01-07")], "color": "#f00",
                            "text": ["spike <b>", "not on the line"]})
    svg = line_chart(dates, range(10), title="T & t", y_label="n", markers=markers)
    assert svg.count("<circle") == 1 and "spike &lt;b&gt;" in svg and "T &amp; t" in svg


def test_yearly_change_with_a_year_of_no_incidents_has_no_percentage():
    import pandas as pd

    from tasks.report.findings import _step, _yearly_change

    months = pd.date_range("2016-01-01", "2018-06-01", freq="MS")
    city = pd.Series([0] * 12 + [5] * 12 + [4] * 6, index=months, dtype=float)
    text = _yearly_change(city)
    assert "changed from none from 2016 (0) to 2017 (60)" in text
    assert "Jan–Jun 2018 (24) is −20% against the same months of 2017" in text
    offenses = pd.DataFrame(columns=["is_drug_offense", "n", "n_arrest", "offense_category"]).astype(
        {"is_drug_offense": bool, "n": int, "n_arrest": int})
    assert "from none" in _step(pd.Series([0.0] * 12 + [5.0] * 12, index=months[:24]), offenses)

"""The overdose and community-voice report sections, rendered from hand-made frames (no warehouse)."""
from __future__ import annotations

import re

import pandas as pd
import pytest

from tasks.report.sections import SECTIONS, ReportContext
from tasks.report.sections import community_voice as cv
from tasks.report.sections import overdoses as od
from tasks.report.sections.health_charts import shaded_series


def square(x: float, y: float, d: float = 0.01) -> str:
    return f"POLYGON(({x} {y}, {x + d} {y}, {x + d} {y + d}, {x} {y + d}, {x} {y}))"


@pytest.fixture
def ctx() -> ReportContext:
    hoods = pd.DataFrame({"neighborhood_id": ["1", "2", "3"], "name": ["Alpha", "Beta", "Gamma"],
                          "population": [10_000.0, 20_000.0, 5_000.0],
                          "geometry_wkt": [square(-87.70, 41.90), square(-87.69, 41.90), square(-87.68, 41.90)]})
    return ReportContext(city="Chicago", area_label="community area", area_label_plural="community areas",
                         population_source="2010 Census", timezone="America/Chicago", neighborhoods=hoods,
                         projected_crs="EPSG:3435")


def overdose_data(provisional_from="2018-05-01") -> od.OverdoseData:
    months = pd.DataFrame({
        "neighborhood_id": ["1", "1", "2", "2", "3", "1"],
        "month_start": pd.to_datetime(["2018-01-01", "2018-02-01", "2018-01-01", "2018-03-01", "2018-02-01",
                                       "2018-06-01"]),
        "n_deaths": [30, 12, 5, 20, 3, 40]})
    arrests = pd.DataFrame({"neighborhood_id": ["1", "2", "3"], "n_drug_arrests": [100, 50, 7]})
    return od.OverdoseData(months, pd.Timestamp("2018-01-01"), pd.Timestamp("2018-06-30"),
                           pd.Timestamp(provisional_from) if provisional_from else None, arrests,
                           (pd.Timestamp("2018-01-01"), pd.Timestamp("2018-06-30")),
                           pd.DataFrame(columns=["period_start", "period_end", "method", "level"]))


def test_sections_are_registered():
    assert {"overdoses", "community_voice"} <= set(SECTIONS)
    assert od.SECTION.key == "overdoses" and cv.SECTION.key == "community_voice"


def test_citywide_fills_every_month_and_map_window_stops_before_the_provisional_months():
    data = overdose_data()
    city = od.citywide(data)
    assert city["n_deaths"].tolist() == [35, 15, 20, 0, 0, 40]  # hand sums per month
    assert od.map_window(data) == (pd.Timestamp("2018-01-01"), pd.Timestamp("2018-04-01"))
    assert od.map_window(overdose_data(None))[1] == pd.Timestamp("2018-06-01")


def test_area_rates_are_per_year_and_small_counts_are_suppressed(ctx):
    rates = od.area_rates(overdose_data(), ctx).set_index("neighborhood_id")
    # Area 1: 42 deaths in Jan-Apr (4 months = 1/3 year) over 10,000 residents -> 42 * 3 = 126 per 10k/year.
    assert rates.loc["1", "rate"] == pytest.approx(42 / 10_000 * 10_000 * 3)
    assert rates.loc["2", "n_deaths"] == 25 and not rates.loc["2", "is_suppressed"]
    assert rates.loc["3", "is_suppressed"] and pd.isna(rates.loc["3", "n_deaths"]) and pd.isna(rates.loc["3", "rate"])


def test_overdose_render_shades_the_provisional_window_and_hides_small_counts(ctx):
    html = od.render(overdose_data(), ctx)
    assert html.count("class='card'") == 1 and "<script" not in html
    assert 'class="provisional"' in html and "provisional (still being certified) from May 2018" in html
    assert "Cook County Medical Examiner" in html and "not shown" in html
    assert "Gamma: 1-10 deaths (not shown)" in html  # 3 deaths: suppressed on the map
    assert not re.search(r"Gamma: 3 deaths", html)
    no_window = od.render(overdose_data(None), ctx)
    assert 'class="provisional"' not in no_window and "No month is provisional" in no_window


def test_area_quarters_sum_months_and_suppress_small_quarters():
    frame = od.area_quarters(overdose_data(), k=3)
    assert list(frame["neighborhood_id"].unique()) == ["1", "2", "3"]  # most deaths first: 82, 25, 3
    q = frame.set_index(["neighborhood_id", "quarter_start"])["n_deaths"]
    q1, q2 = pd.Timestamp("2018-01-01"), pd.Timestamp("2018-04-01")
    assert q[("1", q1)] == 42 and q[("1", q2)] == 40
    assert q[("2", q1)] == 25 and q[("2", q2)] == 0  # zero is shown
    assert pd.isna(q[("3", q1)]) and q[("3", q2)] == 0  # 3 deaths: suppressed


def test_arrests_vs_deaths_rates_and_suppression(ctx):
    frame = od.arrests_vs_deaths(overdose_data(), ctx).set_index("neighborhood_id")
    assert frame.loc["1", "arrests_per_10k"] == pytest.approx(100.0)  # 100 arrests / 10,000 residents
    assert frame.loc["1", "deaths_per_10k"] == pytest.approx(82.0)  # 30 + 12 + 40
    assert pd.isna(frame.loc["3", "deaths_per_10k"])


def test_series_breaks_at_suppressed_months():
    svg = shaded_series(pd.to_datetime(["2018-01-01", "2018-02-01", "2018-03-01"]), pd.Series([20, None, 30]),
                        title="t", y_label="y", shade_from=None)
    assert svg.count("<polyline") == 2 and "provisional" not in svg


def voice_rows() -> pd.DataFrame:
    return pd.DataFrame({
        "neighborhood_id": ["1", "2", "3", "1", "2", "3", "1", "2"],
        "source": ["healthy_chicago_survey"] * 6 + ["police_sentiment"] * 2,
        "indicator_code": ["HCSNSP"] * 3 + ["HCSTLEP"] * 3 + ["CPD_SAFETY"] * 2,
        "indicator_name": ["safety"] * 3 + ["trust"] * 3 + ["cpd"] * 2,
        "period_label": ["2022-2023"] * 6 + ["Aug 2020–Jul 2021"] * 2,
        "estimate": [40.0, 75.5, None, 50.0, 60.0, 70.0, 55.0, 61.0],
        "ci_lower": [35.0, None, None, None, None, None, None, None],
        "ci_upper": [45.0, None, None, None, None, None, None, None],
        "sample_size": [120, None, None, None, None, None, None, None],
        "is_suppressed": [False, False, True, False, False, False, False, False],
        "coverage": [1.0] * 6 + [1.0, 0.6]})


def test_interval_text():
    assert cv.interval_text(59.21, 51.0, 66.84) == "59.2 (51.0–66.8)"
    assert cv.interval_text(59.21, None, None) == "59.2"
    assert cv.interval_text(None, None, None) == "—"


def test_voice_render_shows_intervals_suppressed_areas_and_sources(ctx):
    html = cv.render(cv.VoiceData(voice_rows()), ctx)
    assert "<script" not in html and html.count("<svg") == 2
    assert "Alpha: 40.0 (35.0–45.0)" in html and "Gamma: —" in html
    assert "Healthy Chicago Survey" in html and "Police Sentiment" in html
    assert "1 area(s) are only partly covered" in html
    # The table lists the least-safe area first.
    table = html[html.index("<table>"):]
    assert table.index("Alpha") < table.index("Beta")

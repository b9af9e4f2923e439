"""The overdose and community-voice sections opened offline in headless Chromium, on the real
boundary file and the real Health Atlas estimates (the sections' render, no warehouse), with a
screenshot in tests/_artifacts/."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from tasks.geocode.neighborhoods import neighborhood_dimension, read_population
from tasks.geocode.points import load_neighborhoods
from tasks.report.render import CSS
from tasks.report.sections import ReportContext
from tasks.report.sections import community_voice as cv
from tasks.report.sections import overdoses as od
from tasks.sources import community_survey
from tests.flows.test_report_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ATLAS = "chicago_community_survey/health_atlas_hcs_safety_trust_2022-2023.csv"


def context(data_dir: Path) -> ReportContext:
    polys = load_neighborhoods(data_dir / "chicago_boundaries/community_areas.geojson", "area_numbe", "community")
    pop = read_population(data_dir / "chicago_population/community_area_population_2010.csv", "NID", "POP2010")
    dim = neighborhood_dimension(polys, pop, "EPSG:3435")
    hoods = dim.rename(columns={"population_2010": "population"})[["neighborhood_id", "name", "population",
                                                                   "geometry_wkt"]]
    return ReportContext(city="Chicago", area_label="community area", area_label_plural="community areas",
                         population_source="2010 Census", timezone="America/Chicago", neighborhoods=hoods,
                         projected_crs="EPSG:3435")


def voice_rows(data_dir: Path) -> pd.DataFrame:
    raw = pa.Table.from_batches(list(community_survey.read_raw(data_dir / ATLAS))).to_pandas()
    std = community_survey.standardize_indicators(raw)
    std = std[std["indicator_code"].isin(cv.PANELS[0][:1] + cv.PANELS[1][:1])]
    return std.assign(source="healthy_chicago_survey", coverage=1.0)[
        ["neighborhood_id", "source", "indicator_code", "indicator_name", "period_label", "estimate", "ci_lower",
         "ci_upper", "sample_size", "is_suppressed", "coverage"]]


def overdose_data(ctx: ReportContext) -> od.OverdoseData:
    ids = ctx.neighborhoods["neighborhood_id"].tolist()
    months = pd.date_range("2021-01-01", "2023-07-01", freq="MS")
    rows = [(i, m, (int(i) * 7 + m.month) % 15) for i in ids for m in months]
    frame = pd.DataFrame(rows, columns=["neighborhood_id", "month_start", "n_deaths"])
    arrests = pd.DataFrame({"neighborhood_id": ids, "n_drug_arrests": [int(i) * 13 % 400 for i in ids]})
    return od.OverdoseData(frame, pd.Timestamp("2021-01-01"), pd.Timestamp("2023-07-27"), pd.Timestamp("2023-03-01"),
                           arrests, (pd.Timestamp("2021-01-01"), pd.Timestamp("2023-07-27")),
                           pd.DataFrame(columns=["period_start", "period_end", "method", "level"]))


def test_health_sections_render_offline_in_chromium(data_dir, tmp_path):
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium package (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    ctx = context(data_dir)
    body = od.render(overdose_data(ctx), ctx) + cv.render(cv.VoiceData(voice_rows(data_dir)), ctx)
    page_path = tmp_path / "health.html"
    page_path.write_text(f"<!doctype html><html><head><meta charset='utf-8'><title>Health sections</title>"
                         f"<style>{CSS}</style></head><body><main>{body}</main></body></html>", encoding="utf-8")
    requests: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch_persistent_context(str(tmp_path / "chromium"), executable_path=str(CHROMIUM),
                                                        args=CHROMIUM_ARGS, viewport={"width": 1280, "height": 900})
        try:
            page = browser.new_page()
            page.on("request", lambda req: requests.append(req.url))
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(page_path.resolve().as_uri(), wait_until="load")
            assert page.locator("svg.map").count() == 3  # overdose rate map + safety + trust
            assert page.locator("svg.map path").count() >= 3 * 77
            # the citywide monthly series and the 6 busiest areas' quarterly series each shade the window
            assert page.locator("svg.chart rect.provisional").count() == 1 + 6
            titles = page.locator("#community-voice svg.map path title").all_text_contents()
            assert any(t.startswith("Austin:") for t in titles)
            box = page.locator("#community-voice svg.map").first.bounding_box()
            assert box and box["width"] > 200 and box["height"] > 200
            assert errors == []
            ARTIFACTS.mkdir(exist_ok=True)
            page.locator("#community-voice").screenshot(path=str(ARTIFACTS / "community_voice.png"))
            page.screenshot(path=str(ARTIFACTS / "health_sections.png"), full_page=True)
        finally:
            browser.close()
    assert requests == [page_path.resolve().as_uri()]

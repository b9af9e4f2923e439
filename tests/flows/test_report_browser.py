"""The generated report opened in headless Chromium (Debian /usr/bin/chromium via Playwright, no download)."""
from __future__ import annotations

from pathlib import Path

import pytest

from flows.report import report_flow
from flows.trends import trends_flow
from tests.trend_warehouse import build_trend_warehouse

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "_artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def test_report_renders_offline_in_chromium(prefect_harness, settings_factory, duckdb_url, tmp_path):
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium package (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    settings = settings_factory(duckdb_url)
    build_trend_warehouse(duckdb_url, settings)
    trends_flow(settings=settings)
    path = report_flow(settings=settings)

    requests: list[str] = []
    with sync_playwright() as pw:
        # Playwright sets --user-data-dir itself from the persistent context's folder.
        browser = pw.chromium.launch_persistent_context(str(tmp_path / "chromium"), executable_path=str(CHROMIUM),
                                                        args=CHROMIUM_ARGS, viewport={"width": 1280, "height": 900})
        try:
            page = browser.new_page()
            page.on("request", lambda req: requests.append(req.url))
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(path.resolve().as_uri(), wait_until="load")

            assert page.title().startswith("Community Pulse report")
            # hot spots, rates, areas with alert episodes (+ scan clusters when the scan reports one)
            assert page.locator("svg.map").count() >= 3
            assert page.locator("svg.map path").count() >= 2 * 77
            assert page.locator("svg.chart polyline.series").count() >= 2  # citywide + top areas
            assert page.locator("svg.chart circle.alarm").count() >= 1
            box = page.locator("svg.map").first.bounding_box()
            assert box and box["width"] > 300 and box["height"] > 300  # laid out, not collapsed
            # Tooltips name the areas (SVG <title> inside each path).
            titles = page.locator("svg.map path title").all_text_contents()
            assert any(t.startswith("Austin:") for t in titles) and len(titles) >= 2 * 77
            headings = page.locator("h2").all_text_contents()
            assert {"Headline findings", "Alerts", "Program impact"} <= set(headings)
            assert errors == []
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "report_browser.png"), full_page=True)
        finally:
            browser.close()
    # Offline: the page loaded nothing but itself.
    assert requests == [path.resolve().as_uri()]

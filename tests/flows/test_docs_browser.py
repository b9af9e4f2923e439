"""The dbt docs site and the GX Data Docs opened from file:// in headless Chromium with the network off.

Chromium is Debian's /usr/bin/chromium driven by Playwright (never downloaded). The context is
offline and every request that is not file:// is aborted and recorded: the pages must render their
content from the files on disk alone.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from tasks.ingest.data_docs import EXPECTATIONS_DIR, build_data_docs
from tests.support.dbt import dbt_build
from tests.tasks.test_data_docs import police_validation
from tests.warehouse.test_models import insert_hand_rows, prepare
from warehouse.dbt_project import dbt_paths, dbt_vars
from warehouse.resource import Warehouse

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "_artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture
def offline_page(tmp_path):
    """A Chromium page with the network off; yields (page, requests outside file://, page errors)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium package (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    blocked: list[str] = []
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch_persistent_context(str(tmp_path / "chromium"), executable_path=str(CHROMIUM),
                                                        args=CHROMIUM_ARGS, viewport={"width": 1400, "height": 900},
                                                        offline=True)
        try:
            def route(r):
                if r.request.url.startswith(("file://", "data:", "blob:", "about:")):
                    return r.continue_()
                blocked.append(r.request.url)
                return r.abort()

            browser.route("**/*", route)
            page = browser.new_page()
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            yield page, blocked, errors
        finally:
            browser.close()


def test_dbt_docs_site_renders_offline_with_models_columns_and_lineage(offline_page, settings_factory, duckdb_url,
                                                                      tmp_path):
    from flows.models import dbt_docs_task

    settings = settings_factory(duckdb_url)
    engine = Warehouse(duckdb_url)
    try:
        prepare(engine, settings)
        insert_hand_rows(engine)
    finally:
        engine.close()
    work = settings.work_dir
    dbt_build(duckdb_url, work)
    docs = dbt_docs_task.fn(duckdb_url, dbt_paths(work), dbt_vars(10))
    assert docs == dbt_paths(work).docs and docs.is_file()

    page, blocked, errors = offline_page
    page.goto(docs.resolve().as_uri(), wait_until="load")
    page.get_by_text("community-pulse warehouse").first.wait_for(timeout=60_000)  # the project overview
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dbt_docs_overview.png"))

    page.goto(docs.resolve().as_uri() + "#!/model/model.pulse.mart_neighborhood_month", wait_until="load")
    page.get_by_text("n_admissions_suppressed").first.wait_for(timeout=30_000)  # the columns tab
    body = page.inner_text("body")
    assert "Grain: one row per neighborhood" in body and "int_neighborhood_month" in body  # grain, lineage
    page.screenshot(path=str(ARTIFACTS / "dbt_docs_model.png"), full_page=True)
    assert blocked == [] and errors == []


def test_gx_data_docs_index_lists_the_runs_and_is_styled_offline(offline_page, tmp_path):
    docs = tmp_path / "validation"
    suite = EXPECTATIONS_DIR / "police_incidents.json"
    build_data_docs(docs, suite, [{"batch_id": "police_chicago-aaaa1111", "origin": "/data/Crimes_2023.csv",
                                   "validation": police_validation(500)}], "nightly-one")
    index = build_data_docs(docs, suite, [{"batch_id": "police_chicago-bbbb2222", "origin": "/data/Crimes_2024.csv",
                                           "validation": police_validation(800, bad_latitudes=7)}], "nightly-two")

    page, blocked, errors = offline_page
    page.goto(index.resolve().as_uri(), wait_until="load")
    # bootstrap-table (jQuery) draws the list of validation runs: one row per batch.
    rows = page.locator("table tbody tr")
    rows.first.wait_for(timeout=30_000)
    text = page.inner_text("body")
    assert "police_chicago-aaaa1111" in text and "police_chicago-bbbb2222" in text and "nightly-two" in text
    assert rows.count() >= 2
    # Styled: Bootstrap's navbar is a flex box, bootstrap-table's toolbar exists, the logo image loaded.
    assert page.evaluate("getComputedStyle(document.querySelector('nav.navbar')).display") == "flex"
    assert page.locator(".bootstrap-table").count() >= 1
    assert page.evaluate("document.querySelector('nav.navbar img').naturalWidth") > 0
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "gx_data_docs_index.png"), full_page=True)

    failed = next(docs.rglob("police_chicago-bbbb2222.html"))
    page.goto(failed.resolve().as_uri(), wait_until="load")
    page.get_by_text("raw_latitude").first.wait_for(timeout=30_000)
    assert page.evaluate("getComputedStyle(document.querySelector('nav.navbar')).display") == "flex"
    page.screenshot(path=str(ARTIFACTS / "gx_data_docs_validation.png"), full_page=True)
    assert blocked == [] and errors == []

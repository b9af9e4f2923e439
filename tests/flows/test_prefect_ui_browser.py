"""Against a real ``prefect server`` (own PREFECT_HOME in tmp): the UI shows a run and its artifacts,
a served schedule fires, prefect.yaml deploys, and the runbook's trend-alert automation posts to a webhook.

Chromium is Debian's /usr/bin/chromium driven by Playwright (never downloaded).
"""
from __future__ import annotations

import http.server
import json
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.police_files import real_rows, write_csv
from tests.support.prefect_server import Server, free_port, prefect_server, stop

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "tests" / "_artifacts"
RUNBOOK = REPO / "docs" / "operations.md"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]

RUN_POLICE = """
import json, sys
import flows
from flows.police_incidents import police_incidents_flow
from flows.settings import Settings
state = police_incidents_flow(files=[sys.argv[1]], settings=Settings(), return_state=True)
print(json.dumps({"id": str(state.state_details.flow_run_id), "type": state.type.value}))
"""

RUN_MODELS = """
import json
import flows
from flows.models import models_flow
from flows.settings import Settings
from tests.warehouse.test_models import insert_hand_rows, prepare
from warehouse.resource import Warehouse
settings = Settings()
engine = Warehouse(settings.resolved_warehouse_url)
prepare(engine, settings)
insert_hand_rows(engine)
engine.close()
state = models_flow(settings=settings, return_state=True)
print(json.dumps({"id": str(state.state_details.flow_run_id), "type": state.type.value}))
"""

PULSE_CLI = """
import sys
import flows
from flows.cli.main import app
app(sys.argv[1:])
"""

EMIT_ALERT = """
from prefect.events import emit_event
emit_event(event="pulse.trend.alert",
           resource={"prefect.resource.id": "pulse.neighborhood.25", "prefect.resource.name": "Austin",
                     "pulse.neighborhood_id": "25", "pulse.metric": "drug_incidents", "pulse.method": "ears_c2",
                     "pulse.grain": "day"},
           payload={"level": "alarm", "period_start": "2018-11-10", "period_end": "2018-11-10",
                    "statistic": 4.2, "score": 4.2})
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory, data_dir):
    with prefect_server(tmp_path_factory.mktemp("prefect-home"), data_dir) as srv:
        yield srv


def run(args: list[str], env: dict, timeout: float = 180, cwd: Path = REPO, **kw) -> subprocess.CompletedProcess:
    done = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, **kw)
    assert done.returncode == 0, f"{args[:3]} failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done


def flow_runs(server: Server, **filters) -> list[dict]:
    resp = httpx.post(f"{server.api}/flow_runs/filter", json={**filters, "limit": 50}, timeout=10)
    resp.raise_for_status()
    return resp.json()


def chromium():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium package (CI does)")
    from playwright.sync_api import sync_playwright

    return sync_playwright()


def test_flow_run_page_shows_the_completed_run_and_its_artifacts(server, data_dir, tmp_path):
    rows = real_rows(data_dir, 300, "22")
    rows.loc[0, "Latitude"] = "abc"  # one quarantined row, so the artifacts show one
    sample = write_csv(rows, tmp_path / "sample.csv")
    # Each landed batch goes through one task per stage: standardize, validate, geocode, load.
    out = run([sys.executable, "-c", RUN_POLICE, str(sample)], {**server.env, "PULSE_CHUNK_ROWS": "100"})
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["type"] == "COMPLETED"
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"{server.url}/runs/flow-run/{result['id']}", wait_until="networkidle")
            page.get_by_text("police-incidents police_chicago").first.wait_for(timeout=30_000)
            page.get_by_text("Completed", exact=True).first.wait_for(timeout=30_000)
            page.get_by_text("land sample.csv").first.wait_for(timeout=30_000)  # task run named after its file
            for stage in ("standardize", "validate", "geocode"):  # task runs named "<stage> <batch id>"
                page.get_by_text(f"{stage} police_chicago-", exact=False).first.wait_for(timeout=30_000)
            page.screenshot(path=str(ARTIFACTS / "prefect_flow_run.png"))

            page.get_by_text("Artifacts", exact=True).first.click()
            for key in ("police-chicago-batches", "police-chicago-validation", "police-chicago-links"):
                page.get_by_text(key, exact=True).first.wait_for(timeout=30_000)
            page.screenshot(path=str(ARTIFACTS / "prefect_flow_run_artifacts.png"))

            page.get_by_text("police-chicago-batches", exact=True).first.click()
            page.get_by_text("sample.csv").first.wait_for(timeout=30_000)  # the batch row of the table
            body = page.inner_text("body")
            assert "loaded" in body and "300" in body and "299" in body
            page.set_viewport_size({"width": 1900, "height": 600})
            page.screenshot(path=str(ARTIFACTS / "prefect_artifact_batches.png"), full_page=True)
        finally:
            browser.close()


def test_a_served_schedule_fires_and_completes(server, data_dir, tmp_path):
    sample = write_csv(real_rows(data_dir, 50, "22"), tmp_path / "fifty.csv")
    env = {**server.env, "PULSE_WORK_DIR": str(tmp_path / "work")}
    log = open(tmp_path / "serve.log", "w")
    started = time.time()
    proc = subprocess.Popen([sys.executable, "-c", PULSE_CLI, "serve", "--only", "police", "--every", "15",
                             "--param", f"files={json.dumps([str(sample)])}"],
                            env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        done = []
        while not done and time.time() - started < 150:
            time.sleep(3)
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
            done = flow_runs(server, deployments={"name": {"any_": ["police"]}},
                             flow_runs={"state": {"type": {"any_": ["COMPLETED"]}}})
        assert done, f"no scheduled run completed in 150 s:\n{(tmp_path / 'serve.log').read_text()[-3000:]}"
        assert done[0]["auto_scheduled"] is True  # created by the scheduler, not by hand
        assert done[0]["name"] == "police-incidents police_chicago"
        assert {"ingest", "police_chicago"} <= set(done[0]["tags"])
    finally:
        stop(proc)
        log.close()


def test_prefect_yaml_deploys_every_flow_to_the_process_pool(server):
    run([str(BIN / "prefect"), "work-pool", "create", "pulse-process", "--type", "process", "--overwrite"], server.env)
    run([str(BIN / "prefect"), "--no-prompt", "deploy", "--all"], server.env, timeout=300)
    resp = httpx.post(f"{server.api}/deployments/filter", json={"limit": 50}, timeout=10)
    deployments = {d["name"]: d for d in resp.json()}
    assert {"nightly", "police", "treatment", "programs", "models", "trends", "report"} <= set(deployments)
    nightly = deployments["nightly"]
    assert nightly["work_pool_name"] == "pulse-process"
    (schedule,) = nightly["schedules"]
    assert schedule["active"] and schedule["schedule"]["cron"] == "0 2 * * *"
    assert schedule["schedule"]["timezone"] == "America/Chicago"
    assert nightly["pull_steps"] == [{"prefect.deployments.steps.set_working_directory":
                                      {"directory": "{{ $PULSE_REPO_DIR }}"}}]
    assert not any(s["active"] for s in deployments["trends"]["schedules"])
    with chromium() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"{server.url}/deployments", wait_until="networkidle")
            page.get_by_text("nightly", exact=True).first.wait_for(timeout=30_000)
            page.screenshot(path=str(ARTIFACTS / "prefect_deployments.png"))
        finally:
            browser.close()


class _Hook(http.server.BaseHTTPRequestHandler):
    received: list[str] = []

    def do_POST(self):  # noqa: N802 (http.server API)
        self.received.append(self.rfile.read(int(self.headers.get("content-length", 0))).decode())
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def runbook_block(marker: str) -> str:
    """Return the first ```bash block after ``<!-- tested: marker -->`` in docs/operations.md."""
    text = RUNBOOK.read_text()
    found = re.search(rf"<!-- tested: {marker} -->\s*```bash\n(.*?)```", text, re.S)
    assert found, f"docs/operations.md lost its '<!-- tested: {marker} -->' block"
    return found.group(1)


def test_the_runbooks_trend_alert_automation_posts_to_a_webhook(server, tmp_path):
    _Hook.received = []
    hook = http.server.HTTPServer(("127.0.0.1", free_port()), _Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    try:
        script = runbook_block("automation").replace("https://hooks.example.org/pulse",
                                                     f"http://127.0.0.1:{hook.server_port}/hook")
        run(["bash", "-euo", "pipefail", "-c", script], server.env, cwd=tmp_path)
        run([sys.executable, "-c", EMIT_ALERT], server.env)
        deadline = time.monotonic() + 90
        while not _Hook.received and time.monotonic() < deadline:
            time.sleep(1)
    finally:
        hook.shutdown()
    assert _Hook.received, "the automation did not call the webhook within 90 s"
    text = json.loads(_Hook.received[0])["text"]
    assert "Austin" in text and "drug_incidents" in text and "ears_c2" in text and "alarm" in text



def test_the_models_flow_run_shows_every_dbt_model_and_test_as_a_task(server, tmp_path):
    from warehouse.dbt_project import analyst_models, restricted_models

    env = {**server.env, "PULSE_WORK_DIR": str(tmp_path / "work")}
    out = run([sys.executable, "-c", RUN_MODELS], env, timeout=900)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["type"] == "COMPLETED"
    runs: dict[str, str] = {}
    for offset in range(0, 1000, 200):  # the API's page size is at most 200
        resp = httpx.post(f"{server.api}/task_runs/filter", timeout=30,
                          json={"flow_runs": {"id": {"any_": [result["id"]]}}, "limit": 200, "offset": offset})
        resp.raise_for_status()
        runs |= {t["name"]: t["state_type"] for t in resp.json()}
        if len(resp.json()) < 200:
            break
    models = {f"model {m}" for m in [*restricted_models(), *analyst_models()]}
    assert models <= set(runs), sorted(models - set(runs))
    tests = {n for n in runs if n.startswith("test ")}
    assert len(tests) >= 60 and "test no_small_cells_mart_neighborhood_month_" in " ".join(tests)
    assert {runs[n] for n in models | tests} == {"COMPLETED"}  # none left running when the flow ended
    with chromium() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{server.url}/runs/flow-run/{result['id']}", wait_until="networkidle")
            page.get_by_text("Completed", exact=True).first.wait_for(timeout=30_000)
            page.screenshot(path=str(ARTIFACTS / "prefect_models_flow_run.png"))
            page.get_by_text("Task Runs", exact=True).first.click()
            search = page.locator("input[type=search], input[placeholder*='earch']").first
            search.wait_for(timeout=30_000)
            search.fill("mart_neighborhood_month")
            page.get_by_text("model mart_neighborhood_month", exact=True).first.wait_for(timeout=30_000)
            page.get_by_text("test no_small_cells_mart_neighborhood_month", exact=False).first.wait_for(timeout=30_000)
            page.screenshot(path=str(ARTIFACTS / "prefect_models_task_runs.png"), full_page=True)
            page.get_by_text("Artifacts", exact=True).first.click()
            page.get_by_text("models-build", exact=True).first.wait_for(timeout=30_000)
            page.get_by_text("dbt-docs", exact=True).first.wait_for(timeout=30_000)
        finally:
            browser.close()

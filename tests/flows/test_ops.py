"""Operations: the nightly parent flow, backfills from the landing zone, the Dask runner, deployments."""
from __future__ import annotations

import inspect

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from flows.backfill import backfill_flow
from tasks.ingest.backfill_plan import month_range, plan
from flows.cli.ops import parse_params
from flows.cli.main import app as pulse_app
from flows.nightly import STAGE_NAMES, Stage, nightly_flow, resolve, with_runner
from flows.police_incidents import police_incidents_flow
from flows.serve import build_deployments, load_entrypoint, read_deployment_specs
from schemas.errors import InputError, PulseError
from tests.police_files import data_dir_with, real_rows, write_csv
from tests.warehouse_sql import q




QUARANTINE = "SELECT batch_id, source_row, expectation FROM quarantine_incidents ORDER BY 1, 2, 3"
INCIDENT_COLUMNS = ("incident_id, occurred_at, updated_at, iucr, offense_category, is_arrest, neighborhood_id, "
                    "geocode_method, geocode_precision, latitude, longitude")


# -- nightly ------------------------------------------------------------------------------------

def test_nightly_runs_the_stages_in_order_as_tagged_subflows(prefect_harness, settings_factory, duckdb_url, data_dir,
                                                              tmp_path):
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId
    from prefect.client.schemas.filters import FlowRunFilterId

    settings = settings_factory(duckdb_url, data_dir=data_dir_with(tmp_path, data_dir,
                                                                   {"jan2016.csv": real_rows(data_dir, 300, "22")}))
    settings.override_source("police_chicago", files=["jan2016.csv"])
    state = nightly_flow(stages=["police", "models", "trends", "report"], settings=settings, return_state=True)
    out = state.result()
    assert list(out) == ["police", "models", "trends", "report"]
    assert {r["status"] for r in out.values()} == {"completed"}
    assert q(duckdb_url, "SELECT count(*) FROM fct_incidents")[0][0] > 290
    assert (settings.reports_dir / "index.html").exists()

    with get_client(sync_client=True) as client:
        run_id = state.state_details.flow_run_id
        parent = client.read_flow_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id])))[0]
        children = client.read_flow_runs(flow_run_filter=FlowRunFilter(
            parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[parent.id])))
        by_name = {c.name.split(" (")[0]: c for c in children}  # the police run may also name its mode
        # The police stage is the feed group's run; each configured police source is its subflow.
        feeds = by_name["police feeds"]
        sources = client.read_flow_runs(flow_run_filter=FlowRunFilter(
            parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[feeds.id])))
    assert parent.name.startswith("nightly ") and "police, models, trends, report" in parent.name
    assert "ingest" in feeds.tags
    assert [r.name for r in sources] == ["police-incidents police_chicago"]
    assert "ingest" in sources[0].tags  # the stage tags reach the source runs
    assert {"models", "trends", "report"} <= set(by_name)


def test_nightly_failure_names_stage_source_batch_and_expectation(prefect_harness, settings_factory, duckdb_url,
                                                                   data_dir, tmp_path):
    rows = real_rows(data_dir, 20, "22")
    rows.loc[7, "ID"] = rows.loc[3, "ID"]
    settings = settings_factory(duckdb_url, data_dir=data_dir_with(tmp_path, data_dir, {"dupes.csv": rows}))
    settings.override_source("police_chicago", files=["dupes.csv"])
    with pytest.raises(PulseError) as e:
        nightly_flow(stages=["police", "trends", "report"], settings=settings)
    msg = str(e.value)
    assert "\n" not in msg
    assert msg.startswith("nightly: 2 of 3 stage(s) failed: police: police_chicago: 1 batch(es) failed")
    assert "dupes.csv" in msg and "repeats" in msg  # the batch and the failed expectation
    assert "trends: fct_incidents: holds no incidents" in msg
    assert "--stage police --stage trends" in msg  # report was skipped, not failed


@pytest.mark.parametrize("target, problem", [
    ("flows.not_built_yet:some_flow", "module flows.not_built_yet not found"),
    ("flows.models:no_such_flow", "flows.models has no no_such_flow"),
], ids=["missing-module", "missing-attribute"])
def test_a_missing_stage_is_a_lookup_error(target, problem):
    with pytest.raises(LookupError, match=problem):
        resolve(Stage("x", target))


def test_a_broken_stage_module_still_fails_loudly(tmp_path, monkeypatch):
    (tmp_path / "pulse_broken_stage.py").write_text("import a_package_that_is_not_installed\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError, match="a_package_that_is_not_installed"):
        resolve(Stage("broken", "pulse_broken_stage:flow"))


def test_plain_function_stages_become_named_flows():
    from prefect import Flow

    fl = resolve(Stage("programs", "flows.feeds:run_feed_group"))
    assert isinstance(fl, Flow) and fl.name == "feeds" and fl.flow_run_name


def test_unknown_stage_and_runner_are_input_errors(prefect_harness):
    with pytest.raises(InputError, match="unknown stage"):
        nightly_flow(stages=["polise"])
    with pytest.raises(InputError, match="unknown runner 'spark'"):
        with_runner(police_incidents_flow, "spark")


# -- Dask ----------------------------------------------------------------------------------------

def test_dask_runner_loads_the_same_rows(prefect_harness, settings_factory, data_dir, tmp_path):
    rows = real_rows(data_dir, 300, "22")
    rows.loc[0, "Latitude"] = "abc"  # one quarantined row too
    path = write_csv(rows, tmp_path / "sample.csv")
    urls = {}
    for runner in ("threads", "dask"):
        url = f"duckdb:///{tmp_path / runner}.duckdb"
        settings = settings_factory(url, chunk_rows=100)
        fl = with_runner(police_incidents_flow, runner, dask_processes=False)
        summary = fl(settings=settings, files=[str(path)])[0]
        assert summary["rows_loaded"] == 299 and summary["rows_quarantined"] == 1
        urls[runner] = url
    for table, cols in (("fct_incidents", INCIDENT_COLUMNS),
                        ("quarantine_incidents", "source_row, expectation, value")):
        got = {r: q(u, f"SELECT {cols} FROM {table} ORDER BY 1, 2") for r, u in urls.items()}
        assert got["dask"] == got["threads"] and len(got["dask"]) > 0


def test_dask_runner_is_a_dask_task_runner():
    from prefect_dask import DaskTaskRunner

    assert isinstance(with_runner(police_incidents_flow, "dask", "tcp://10.0.0.5:8786").task_runner, DaskTaskRunner)
    assert with_runner(police_incidents_flow, "threads") is police_incidents_flow


# -- backfill ------------------------------------------------------------------------------------

@pytest.mark.parametrize("start, end, months", [
    ("2016-01-01", "2016-01-31", ["2016-01"]),
    ("2015-12-15", "2016-02-01", ["2015-12", "2016-01", "2016-02"]),
    ("2016-03", "2016-03", ["2016-03"]),
], ids=["one-month", "partial-months-count-whole", "year-month"])
def test_month_range(start, end, months):
    assert month_range(start, end) == months


@pytest.mark.parametrize("start, end, problem", [
    ("2016-02-01", "2016-01-01", "is after"), ("last year", "2016-01-01", "cannot read the dates")],
    ids=["reversed", "not-a-date"])
def test_month_range_rejects_bad_input(start, end, problem):
    with pytest.raises(InputError, match=problem):
        month_range(start, end)


def test_plan_selects_batches_with_rows_in_range():
    coverage = {"a": {"2015-01": 50, "unparsed": 1}, "b": {"2016-01": 60}, "c": {"2015-01": 5, "2016-01": 5}}
    selected, per_month = plan(coverage, ["2016-01", "2016-02"])
    assert selected == ["b", "c"]
    assert per_month == [{"month": "2016-01", "rows": 65, "batches": "b, c"},
                         {"month": "2016-02", "rows": 0, "batches": ""}]


def test_backfill_is_idempotent_restores_rows_and_audits(prefect_harness, settings_factory, duckdb_url, data_dir,
                                                         tmp_path):
    jan2016 = real_rows(data_dir, 60, "22")
    jan2016.loc[0, "Latitude"] = "abc"  # quarantined: must not be duplicated by a backfill
    files = [write_csv(jan2016, tmp_path / "jan2016.csv"), write_csv(real_rows(data_dir, 40, "bulk"),
                                                                     tmp_path / "jan2015.csv")]
    settings = settings_factory(duckdb_url)
    police_incidents_flow(settings=settings, files=[str(f) for f in files])
    before = q(duckdb_url, f"SELECT {INCIDENT_COLUMNS} FROM fct_incidents ORDER BY incident_id")
    quarantine = q(duckdb_url, QUARANTINE)
    assert len(before) == 99 and len(quarantine) >= 1

    out = backfill_flow(source="police_chicago", date_from="2016-01-01", date_to="2016-02-29", settings=settings)
    assert [b["origin"].rsplit("/", 1)[-1] for b in out["batches"]] == ["jan2016.csv"]  # only the batch in range
    assert out["rows_in_range"] == 60 and out["months_without_data"] == ["2016-02"]
    assert out["batches"][0]["rows_unchanged"] == 59 and out["batches"][0]["rows_inserted"] == 0
    assert q(duckdb_url, f"SELECT {INCIDENT_COLUMNS} FROM fct_incidents ORDER BY incident_id") == before
    assert q(duckdb_url, QUARANTINE) == quarantine
    audit = q(duckdb_url, "SELECT source_path, status, rows_read, rows_loaded, rows_unchanged, rows_quarantined "
                          "FROM load_audit ORDER BY finished_at")
    assert len(audit) == 3 and audit[-1][0].endswith("jan2016.csv")
    assert audit[-1][1:] == ("loaded", 60, 59, 59, 1)

    # Rows lost from the warehouse come back from the landing zone; a second backfill then changes nothing.
    from warehouse.resource import Warehouse

    engine = Warehouse(duckdb_url)
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM fct_incidents WHERE occurred_at < '2016-01-02'"))
    engine.close()
    assert len(q(duckdb_url, "SELECT 1 FROM fct_incidents")) < 99
    restored = backfill_flow(source="police_chicago", date_from="2015-01-01", date_to="2016-01-31", settings=settings)
    assert len(restored["batches"]) == 2 and sum(b["rows_inserted"] for b in restored["batches"]) > 0
    assert q(duckdb_url, f"SELECT {INCIDENT_COLUMNS} FROM fct_incidents ORDER BY incident_id") == before
    again = backfill_flow(source="police_chicago", date_from="2015-01-01", date_to="2016-01-31", settings=settings)
    assert sum(b["rows_inserted"] + b["rows_updated"] for b in again["batches"]) == 0
    assert q(duckdb_url, QUARANTINE) == quarantine
    assert q(duckdb_url, "SELECT count(*) FROM load_audit")[0][0] == 7


def test_backfill_without_landed_batches_says_what_to_do(prefect_harness, settings_factory, duckdb_url):
    with pytest.raises(InputError, match="holds no landed batches. Land the source first"):
        backfill_flow(source="police_chicago", date_from="2016-01-01", date_to="2016-01-31",
                      settings=settings_factory(duckdb_url))


def test_load_takes_the_sources_global_concurrency_slot(prefect_harness, settings_factory, duckdb_url, data_dir,
                                                        tmp_path):
    from prefect import get_client

    police_incidents_flow(settings=settings_factory(duckdb_url),
                          files=[str(write_csv(real_rows(data_dir, 10, "22"), tmp_path / "ten.csv"))])
    with get_client(sync_client=True) as client:
        limit = client.read_global_concurrency_limit_by_name("load-police_chicago")
    assert limit.limit == 1 and limit.active and limit.active_slots == 0  # created on first use, released after


# -- deployments and CLI ------------------------------------------------------------------------

def test_prefect_yaml_declares_every_flow_with_schedules_in_chicago_time():
    import yaml

    from flows.serve import PREFECT_YAML

    specs = read_deployment_specs()
    assert [s["name"] for s in specs] == ["nightly", *STAGE_NAMES]
    for spec in specs:
        fl = load_entrypoint(spec["entrypoint"])
        accepted = inspect.signature(fl.fn).parameters
        assert set(spec["parameters"]) <= set(accepted), spec["name"]
        assert spec["work_pool"]["name"] == "pulse-process"
        assert spec["tags"] and spec["concurrency_limit"] == 1
        assert [s["timezone"] for s in spec["schedules"]] == ["America/Chicago"]
    active = [s["name"] for s in specs if any(x["active"] for x in s["schedules"])]
    assert active == ["nightly"]  # one writer at a time on DuckDB
    pull = yaml.safe_load(PREFECT_YAML.read_text())["pull"]
    assert pull == [{"prefect.deployments.steps.set_working_directory": {"directory": "{{ $PULSE_REPO_DIR }}"}}]


def test_serve_builds_runner_deployments_with_overrides():
    deployments = build_deployments(read_deployment_specs(), only=["police"], every_seconds=30,
                                    parameters={"files": ["/tmp/x.csv"]})
    (d,) = deployments
    assert d.name == "police" and d.entrypoint == "flows.police_incidents.police_incidents_flow"
    assert d.parameters == {"source": "police_chicago", "mode": "files", "files": ["/tmp/x.csv"]}
    assert d.schedules[0].schedule.interval.total_seconds() == 30
    full = {d.name: d for d in build_deployments(read_deployment_specs())}
    assert full["nightly"].schedules[0].schedule.cron == "0 2 * * *"
    assert full["nightly"].schedules[0].schedule.timezone == "America/Chicago"
    with pytest.raises(PulseError, match="no deployment named polise"):
        build_deployments(read_deployment_specs(), only=["polise"])


@pytest.mark.parametrize("pairs, expected", [
    (["mode=api"], {"mode": "api"}),
    (['files=["a.csv", "b.csv"]', "since=2018-01-01"], {"files": ["a.csv", "b.csv"], "since": "2018-01-01"}),
    (["chunk=5"], {"chunk": 5}),
], ids=["text", "json-list", "number"])
def test_parse_params(pairs, expected):
    assert parse_params(pairs) == expected


def test_cli_commands_are_registered_and_report_bad_input(prefect_harness):
    app = pulse_app
    runner = CliRunner()
    assert {"nightly", "backfill", "serve"} <= {c.name for c in app.registered_commands}
    result = runner.invoke(app, ["backfill", "--from", "2016-02-01", "--to", "2016-01-01"])
    assert result.exit_code == 2 and "2016-02-01 is after 2016-01-01" in result.output

"""The dbt project on all 1,031,023 real Chicago incidents (slow; runs in CI)."""
from __future__ import annotations

import pytest

from warehouse.dbt_project import analyst_models, restricted_models
from warehouse.resource import Warehouse

pytestmark = pytest.mark.slow

# Row counts of the pre-dbt runner on the same incidents (baseline warehouse, docs/benchmarks.md).
BASELINE = {"stg_police__incidents": 1_031_023, "mart_neighborhood_daily": 108_724, "dim_offense_types": 401,
            "stg_codes__iucr_codes": 401, "stg_codes__teds_codes": 379, "dim_substances": 20,
            "dim_referral_sources": 8, "dim_age_groups": 12, "stg_neighborhoods": 77}


@pytest.fixture(scope="module")
def built(prefect_harness, data_dir, tmp_path_factory):
    from flows.models import models_flow
    from flows.police_incidents import police_incidents_flow
    from flows.settings import Settings

    work = tmp_path_factory.mktemp("real-dbt")
    settings = Settings(data_dir=data_dir, work_dir=work, warehouse_url=f"duckdb:///{work / 'pulse.duckdb'}")
    police_incidents_flow(settings=settings)
    return settings, models_flow(settings=settings, node_tasks=False)


def test_every_model_builds_and_every_dbt_test_passes_on_the_real_data(built):
    _, rows = built
    models = {r["name"]: r for r in rows if r["type"] == "model"}
    tests = [r for r in rows if r["type"] == "test"]
    assert set(models) == set(restricted_models()) | set(analyst_models())
    assert {r["status"] for r in models.values()} == {"success"}
    assert len(tests) >= 60 and {r["status"] for r in tests} == {"pass"}
    assert {n: models[n]["rows"] for n in BASELINE} == BASELINE
    # 77 areas x the police data's 47 months (2015-01 .. 2018-11): the full grid.
    assert models["mart_neighborhood_month"]["rows"] == 77 * 47


def test_the_analyst_file_and_docs_are_published(built):
    from warehouse.analyst_file import analyst_file_tables, file_mode
    from warehouse.dbt_project import dbt_paths

    settings, _ = built
    published = analyst_file_tables(settings.work_dir / "analyst.duckdb")
    assert set(analyst_models()) <= set(published) and "fct_incidents" in published
    assert file_mode(settings.work_dir / "pulse.duckdb") == 0o600
    engine = Warehouse(settings.resolved_warehouse_url)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM fct_incidents").scalar_one() == 1_031_023
    finally:
        engine.close()
    assert dbt_paths(settings.work_dir).docs.stat().st_size > 500_000

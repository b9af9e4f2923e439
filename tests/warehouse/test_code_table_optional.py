"""A city without an offense code table: the iucr relationships test of fct_incidents is disabled
(var has_code_table, set by the models flow from the config) instead of failing on an empty table."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from tests.support.dbt import dbt
from warehouse.code_table_loader import load_code_tables
from warehouse.load import init_warehouse
from warehouse.resource import Warehouse
from warehouse.tables import fct_incidents

RELATIONSHIP = "source_relationships_police_fct_incidents_iucr__iucr__ref_dim_offense_types_"
SELECT = ("stg_codes__iucr_codes", "dim_offense_types", "source:police.fct_incidents")


def _warehouse(url: str, data_dir) -> None:
    engine = Warehouse(url)
    try:
        init_warehouse(engine)
        load_code_tables(engine, data_dir, None)  # no code table: ref_iucr_codes is empty
        row = {c.name: None for c in fct_incidents.columns}
        row.update(incident_id="B1", iucr="1843", occurred_at=datetime(2019, 1, 1), is_drug_offense=True,
                   offense_category="possession", geocode_method="none", geocode_precision="none",
                   source="police_boston", batch_id="b1", loaded_at=datetime(2026, 1, 1))
        with engine.begin() as conn:
            conn.execute(fct_incidents.insert(), [{k: v for k, v in row.items() if v is not None}])
    finally:
        engine.close()


def _tests(rows: list[dict]) -> dict[str, str]:
    return {r["name"]: r["status"] for r in rows if r["type"] == "test"}


def test_without_a_code_table_the_iucr_relationship_is_not_tested(duckdb_url, data_dir, tmp_path):
    _warehouse(duckdb_url, data_dir)
    error, rows = dbt(duckdb_url, tmp_path / "work", "build", select=SELECT, has_code_table=False)
    tests = _tests(rows)
    assert error is None, error
    assert not any(name.startswith(RELATIONSHIP) for name in tests), tests
    assert tests and set(tests.values()) == {"pass"}  # the other incident tests still run

    error, rows = dbt(duckdb_url, tmp_path / "work", "build", select=SELECT, has_code_table=True)
    failed = {n: s for n, s in _tests(rows).items() if n.startswith(RELATIONSHIP)}
    assert list(failed.values()) == ["fail"], _tests(rows)  # with the var on, the empty table fails it

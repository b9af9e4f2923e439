"""The loader: merge by key in one transaction, newer versions win, failures change nothing."""
from __future__ import annotations

from datetime import datetime

import pandas as pd
import pytest
import sqlalchemy as sa

from schemas.incidents import INCIDENTS
from warehouse.resource import Warehouse, redact
from warehouse.load import BatchInfo, init_warehouse, merge_batch, write_stage
from schemas.errors import ConfigError


def incidents(ids, updated="2018-01-01 00:00:00", arrest=False) -> pd.DataFrame:
    n = len(ids)
    frame = INCIDENTS.empty_frame()
    rows = pd.DataFrame({
        "incident_id": ids, "case_number": [f"C{i}" for i in ids],
        "occurred_at": [pd.Timestamp("2017-05-01 10:00")] * n, "offense_category": ["possession"] * n,
        "is_drug_offense": [True] * n, "is_arrest": [arrest] * n, "updated_at": [pd.Timestamp(updated)] * n,
        "geocode_method": ["latlon"] * n, "geocode_precision": ["point"] * n, "neighborhood_id": ["25"] * n,
    })
    for c in frame.columns:
        frame[c] = rows[c] if c in rows else pd.Series([None] * n)
    return INCIDENTS.coerce(frame)


def stage(tmp_path, name, frame):
    return [write_stage(tmp_path / "stage", name, frame)]


def count(engine, sql):
    with engine.connect() as conn:
        return conn.execute(sa.text(sql)).scalar_one()


def batch(batch_id, rows):
    return BatchInfo(batch_id=batch_id, source="test", entity="incidents", rows_read=rows, started_at=datetime.now())


def test_merge_inserts_updates_and_keeps_unchanged(warehouse_url, tmp_path):
    engine = Warehouse(warehouse_url)
    init_warehouse(engine)
    first = merge_batch(engine, INCIDENTS, batch("b1", 3), stage(tmp_path, "a", incidents(["1", "2", "3"])), [], 0)
    assert first["rows_inserted"] == 3
    newer = incidents(["2"], updated="2019-01-01 00:00:00", arrest=True)
    older = incidents(["3"], updated="2010-01-01 00:00:00", arrest=True)
    same = incidents(["1"])
    new = incidents(["4"])
    second = merge_batch(engine, INCIDENTS, batch("b2", 4),
                         stage(tmp_path, "b", pd.concat([newer, older, same, new], ignore_index=True)), [], 0)
    assert (second["rows_inserted"], second["rows_updated"], second["rows_unchanged"]) == (1, 1, 2)
    assert count(engine, "SELECT count(*) FROM fct_incidents") == 4
    assert count(engine, "SELECT count(*) FROM fct_incidents WHERE is_arrest") == 1
    assert count(engine, "SELECT batch_id FROM fct_incidents WHERE incident_id = '2'") == "b2"
    assert count(engine, "SELECT count(*) FROM load_audit WHERE status = 'loaded'") == 2
    engine.close()


def test_a_failed_load_leaves_the_warehouse_as_it_was(warehouse_url, tmp_path):
    engine = Warehouse(warehouse_url)
    init_warehouse(engine)
    merge_batch(engine, INCIDENTS, batch("ok", 2), stage(tmp_path, "a", incidents(["1", "2"])), [], 0)
    broken = incidents(["5", "6"])
    broken.loc[1, "offense_category"] = None  # NOT NULL in the table: the insert fails mid-transaction
    with pytest.raises(Exception):
        merge_batch(engine, INCIDENTS, batch("bad", 2), stage(tmp_path, "b", broken), [], 0)
    assert count(engine, "SELECT count(*) FROM fct_incidents") == 2
    assert count(engine, "SELECT count(*) FROM load_audit") == 1
    engine.close()


def test_urls_are_validated_and_passwords_redacted():
    assert "secret" not in redact("postgresql+psycopg://loader:secret@db/pulse")
    with pytest.raises(ConfigError):
        Warehouse("mysql://x@y/z")
    with pytest.raises(ConfigError):
        Warehouse("not a url")

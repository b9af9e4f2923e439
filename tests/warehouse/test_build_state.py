"""A rerun with nothing new skips models, trends and the report: the build fingerprint and its state file."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert

from warehouse.build_state import build_fingerprint, read_build_state, unchanged_since, write_build_state
from warehouse.load import init_warehouse
from warehouse.resource import Warehouse
from warehouse.tables import load_audit


def _audit_row(audit_id: str, status: str = "loaded") -> dict:
    now = datetime(2026, 1, 1, 12)
    return dict(audit_id=audit_id, batch_id=f"b{audit_id}", source="police_chicago", entity="incidents",
                status=status, rows_read=10, rows_loaded=9, rows_quarantined=1, started_at=now, finished_at=now)


def test_fingerprint_changes_with_a_load_the_config_or_the_threshold_and_not_otherwise(duckdb_url, tmp_path):
    config = tmp_path / "city.toml"
    config.write_text('city = "X"\n')
    with Warehouse(duckdb_url) as wh:
        init_warehouse(wh)
        empty = build_fingerprint(wh, config, 10)
        assert build_fingerprint(wh, config, 10) == empty  # stable
        with wh.begin() as conn:
            conn.execute(insert(load_audit).values(**_audit_row("1", status="failed")))
        assert build_fingerprint(wh, config, 10) == empty  # a failed batch changed nothing
        with wh.begin() as conn:
            conn.execute(insert(load_audit).values(**_audit_row("2")))
        loaded = build_fingerprint(wh, config, 10)
        assert loaded != empty
        assert build_fingerprint(wh, config, 5) != loaded
        config.write_text('city = "Y"\n')
        assert build_fingerprint(wh, config, 10) != loaded


def test_unchanged_only_when_the_fingerprint_matches_and_the_outputs_exist(tmp_path):
    report = tmp_path / "reports" / "index.html"
    assert read_build_state(tmp_path) is None
    write_build_state(tmp_path, "abc", {"report": str(report)})
    state = read_build_state(tmp_path)
    assert unchanged_since(state, "abc") is None  # the report is gone: rebuild
    report.parent.mkdir()
    report.write_text("<html></html>")
    assert unchanged_since(state, "abc") == state["built_at"]
    assert unchanged_since(state, "def") is None
    assert unchanged_since(None, "abc") is None

"""Shared fixtures: the real data folder, warehouses (DuckDB file, PostgreSQL), Prefect harness."""
from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

import flows  # noqa: F401  (sets offline defaults for Prefect/GX before they are imported)
from flows.settings import Settings

PG_ADMIN_URL = os.environ.get("PULSE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
TESTS = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def data_dir() -> Path:
    path = Settings().data_dir
    if not (path / "chicago_crimes").is_dir():
        pytest.fail(f"shared data not found at {path}: set PULSE_DATA_DIR to the shared/data folder")
    return path


@pytest.fixture(scope="session")
def bad_dir() -> Path:
    return TESTS / "data"


def _pg_admin():
    import sqlalchemy as sa

    engine = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001
        engine.dispose()
        msg = f"no PostgreSQL server reachable at {PG_ADMIN_URL} ({type(exc).__name__})"
        if os.environ.get("PULSE_REQUIRE_POSTGRES"):
            pytest.fail(msg + " but PULSE_REQUIRE_POSTGRES is set")
        pytest.skip(msg)
    return engine


@pytest.fixture
def postgres_url():
    """A fresh, empty PostgreSQL database for one test (dropped afterwards)."""
    import sqlalchemy as sa

    admin = _pg_admin()
    name = f"pulse_test_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    yield url
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def duckdb_url(tmp_path) -> str:
    return f"duckdb:///{tmp_path / 'pulse.duckdb'}"


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def warehouse_url(request, tmp_path):
    """The same test on DuckDB and on PostgreSQL."""
    if request.param == "duckdb":
        return f"duckdb:///{tmp_path / 'pulse.duckdb'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture(scope="session")
def prefect_harness():
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def settings_factory(data_dir, tmp_path):
    """Build Settings for a test run: work dir in tmp_path, warehouse URL given."""

    def make(warehouse_url: str | None = None, **overrides) -> Settings:
        return Settings(**{"data_dir": data_dir, "work_dir": tmp_path / "work", "warehouse_url": warehouse_url,
                           **overrides})

    return make

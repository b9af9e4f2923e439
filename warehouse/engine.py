"""SQLAlchemy engines for the warehouse: DuckDB file by default, PostgreSQL/PostGIS by URL."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from schemas.errors import ConfigError


DUCKDB_MEMORY_LIMIT = "384MB"


def is_duckdb(url_or_engine) -> bool:
    url = url_or_engine.url if hasattr(url_or_engine, "url") else make_url(str(url_or_engine))
    return url.get_backend_name() == "duckdb"


def redact(url: str) -> str:
    """Return the URL with any password hidden (safe for logs and artifacts)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable warehouse URL>"


def make_engine(url: str) -> Engine:
    """Return an engine for ``url``; creates the DuckDB file's folder when needed."""
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise ConfigError("PULSE_WAREHOUSE_URL", f"not a valid SQLAlchemy URL ({type(exc).__name__})",
                          "Use duckdb:///path/file.duckdb or postgresql+psycopg://user@host/db") from None
    backend = parsed.get_backend_name()
    if backend == "duckdb":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # NOTE: DuckDB caches table data up to 80% of RAM by default; the pipeline keeps its
        # process near 1 GB, so cap it (DuckDB spills beyond it). A URL query such as
        # ?memory_limit=4GB overrides this default.
        return create_engine(parsed, connect_args={"config": {"memory_limit": DUCKDB_MEMORY_LIMIT}})
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        engine = create_engine(parsed, pool_pre_ping=True)

        @event.listens_for(engine, "connect")
        def _set_tz(dbapi_conn, _record):  # timestamps are local wall-clock; keep the session neutral
            with dbapi_conn.cursor() as cur:
                cur.execute("SET TIME ZONE 'UTC'")
            dbapi_conn.commit()

        return engine
    raise ConfigError("PULSE_WAREHOUSE_URL", f"backend '{backend}' is not supported",
                      "Use DuckDB (duckdb:///…) or PostgreSQL (postgresql+psycopg://…)")

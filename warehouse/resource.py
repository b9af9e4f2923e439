"""The warehouse resource: one object per flow run, built from the warehouse URL.

DuckDB (default, a file) and PostgreSQL (production) differ in a few places only: bulk loading
(DuckDB reads Parquet and registered Arrow/pandas frames itself; PostgreSQL takes ``COPY … FROM
STDIN``), temporary tables and extensions. Those differences live here and nowhere else, so the
loader, the trend writer and the reads are backend-neutral SQLAlchemy Core.
"""
from __future__ import annotations

import io
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url

from schemas.errors import ConfigError

DUCKDB_MEMORY_LIMIT = "384MB"


def is_duckdb(target) -> bool:
    """True when ``target`` (a URL, an Engine or a Warehouse) is a DuckDB warehouse."""
    url = getattr(target, "url", target)
    return make_url(str(url) if not hasattr(url, "get_backend_name") else url).get_backend_name() == "duckdb"


def redact(url: str) -> str:
    """Return the URL with any password hidden (safe for logs and artifacts)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable warehouse URL>"


def quote(name: str) -> str:
    """Return a safe double-quoted SQL identifier (letters, digits and underscores only)."""
    if not name.replace("_", "").isalnum():
        raise ValueError(f"unsafe SQL identifier {name!r}")
    return f'"{name}"'


def parse_url(url: str):
    """Return the parsed warehouse URL; one ConfigError line for a malformed URL or an unsupported backend."""
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise ConfigError("PULSE_WAREHOUSE_URL", f"not a valid SQLAlchemy URL ({type(exc).__name__})",
                          "Use duckdb:///path/file.duckdb or postgresql+psycopg://user@host/db") from None
    backend = parsed.get_backend_name()
    if backend not in ("duckdb", "postgresql"):
        raise ConfigError("PULSE_WAREHOUSE_URL", f"backend '{backend}' is not supported",
                          "Use DuckDB (duckdb:///…) or PostgreSQL (postgresql+psycopg://…)")
    return parsed


def make_engine(url: str) -> Engine:
    """Return an engine for ``url``; creates the DuckDB file's folder when needed."""
    parsed = parse_url(url)
    if parsed.get_backend_name() == "duckdb":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # NOTE: DuckDB caches table data up to 80% of RAM by default; the pipeline keeps its
        # process near 1 GB, so cap it (DuckDB spills beyond it). A URL query such as
        # ?memory_limit=4GB overrides this default.
        return create_engine(parsed, connect_args={"config": {"memory_limit": DUCKDB_MEMORY_LIMIT}})
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    engine = create_engine(parsed, pool_pre_ping=True)

    @event.listens_for(engine, "connect")
    def _set_tz(dbapi_conn, _record):  # timestamps are local wall-clock; keep the session neutral
        with dbapi_conn.cursor() as cur:
            cur.execute("SET TIME ZONE 'UTC'")
        dbapi_conn.commit()

    return engine


class Warehouse:
    """The warehouse of one run: its URL, one lazily created engine, and the backend's bulk paths.

    Build it once per flow run (``Warehouse(settings.resolved_warehouse_url)``) and hand it to the
    steps; ``close()`` (or leaving a ``with`` block) disposes the engine. It pickles as its URL,
    so a distributed task runner can ship it to a worker, which opens its own engine.
    """

    def __init__(self, url: str) -> None:
        parse_url(url)  # a bad URL fails here, in one line, before any step runs
        self.url = url
        self._engine: Engine | None = None

    def __repr__(self) -> str:
        return f"Warehouse({self.display_url})"

    def __getstate__(self) -> dict:
        return {"url": self.url}

    def __setstate__(self, state: dict) -> None:
        self.url, self._engine = state["url"], None

    def __enter__(self) -> "Warehouse":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.url)
        return self._engine

    @property
    def is_duckdb(self) -> bool:
        return is_duckdb(self.url)

    @property
    def display_url(self) -> str:
        return redact(self.url)

    def connect(self):
        return self.engine.connect()

    def begin(self):
        return self.engine.begin()

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    dispose = close  # Engine-like, for code that takes either

    @property
    def dialect(self):
        return self.engine.dialect

    # -- backend-specific bulk paths (one connection, inside the caller's transaction) ------------

    def create_temp_like(self, conn: Connection, table: str, columns: Sequence[str]) -> str:
        """Create an empty temporary table with ``columns`` of ``table``; returns its name."""
        name = f"stg_{table}_{uuid.uuid4().hex[:8]}"
        cols = ", ".join(quote(c) for c in columns)
        if self.is_duckdb:
            conn.execute(text(f"CREATE TEMP TABLE {quote(name)} AS SELECT {cols} FROM {quote(table)} LIMIT 0"))
        else:
            conn.execute(text(f"CREATE TEMP TABLE {quote(name)} ON COMMIT DROP AS SELECT {cols} "
                              f"FROM {quote(table)} WITH NO DATA"))
        return name

    def create_temp_as(self, conn: Connection, query: str) -> str:
        """Create a temporary table holding the rows of ``query``; returns its name."""
        name = f"tmp_{uuid.uuid4().hex[:8]}"
        suffix = "" if self.is_duckdb else " ON COMMIT DROP"
        conn.execute(text(f"CREATE TEMP TABLE {quote(name)}{suffix} AS {query}"))
        return name

    def drop_temp(self, conn: Connection, name: str) -> None:
        """Drop a temporary table made by ``create_temp_like`` (PostgreSQL drops it at commit)."""
        if self.is_duckdb:
            conn.execute(text(f"DROP TABLE {quote(name)}"))

    def copy_parquet(self, conn: Connection, table: str, columns: Sequence[str], files: Sequence[Path],
                     extra: dict[str, object] | None = None) -> None:
        """Bulk-append Parquet files into ``table`` (``columns`` plus constant ``extra`` columns)."""
        extra = extra or {}
        if not files:
            return
        cols = ", ".join(quote(c) for c in [*columns, *extra])
        if self.is_duckdb:
            raw = conn.connection.driver_connection
            consts = ", ".join(f"${i + 1}" for i in range(len(extra)))
            select_cols = ", ".join(quote(c) for c in columns) + (", " + consts if extra else "")
            file_list = "[" + ", ".join("'" + str(f).replace("'", "''") + "'" for f in files) + "]"
            raw.execute(f"INSERT INTO {quote(table)} ({cols}) SELECT {select_cols} "
                        f"FROM read_parquet({file_list}, union_by_name=true)", list(extra.values()))
            return
        with self._copy(conn, table, cols) as copy:
            for f in files:
                for batch in pq.ParquetFile(f).iter_batches(batch_size=100_000, columns=list(columns)):
                    copy.write(self._csv(pa.Table.from_batches([batch]), extra))

    def insert_frame(self, conn: Connection, table: str, frame) -> None:
        """Bulk-append a pandas frame (columns named as ``table``'s) inside the caller's transaction."""
        if frame.empty:
            return
        cols = ", ".join(quote(c) for c in frame.columns)
        if self.is_duckdb:
            # NOTE: executemany through duckdb_engine inserts row by row (~89 s per 1M rows,
            # STACK_NOTES); a registered frame + INSERT ... SELECT runs in the same transaction.
            raw = conn.connection.driver_connection
            view = f"frame_{uuid.uuid4().hex[:8]}"
            raw.register(view, frame)
            try:
                raw.execute(f"INSERT INTO {quote(table)} ({cols}) SELECT {cols} FROM {view}")
            finally:
                raw.unregister(view)
            return
        with self._copy(conn, table, cols) as copy:
            copy.write(self._csv(pa.Table.from_pandas(frame, preserve_index=False), {}))

    @contextmanager
    def _copy(self, conn: Connection, table: str, cols: str) -> Iterator:
        pg = conn.connection.driver_connection
        with pg.cursor() as cur, cur.copy(f"COPY {quote(table)} ({cols}) FROM STDIN WITH (FORMAT csv)") as copy:
            yield copy

    @staticmethod
    def _csv(tab: pa.Table, extra: dict[str, object]) -> bytes:
        for name, value in extra.items():
            tab = tab.append_column(name, pa.array([value] * tab.num_rows))
        buf = io.BytesIO()
        pacsv.write_csv(tab, buf, write_options=pacsv.WriteOptions(include_header=False, quoting_style="needed"))
        return buf.getvalue()

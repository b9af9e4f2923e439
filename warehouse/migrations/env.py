"""Alembic environment: runs the revisions in ``versions/`` on the connection ``warehouse.migrations`` passes.

No reflection and no autogenerate (duckdb_engine cannot reflect on SQLAlchemy 2.1): revisions are
explicit ``op.*`` calls written to be idempotent (see ``warehouse/migrations/__init__.py``).
"""
from __future__ import annotations

from alembic import context

from warehouse.engine import make_engine
from warehouse.migrations import register_duckdb_impl

register_duckdb_impl()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:  # run outside ``warehouse.migrations.upgrade`` (e.g. the alembic CLI)
        from flows.settings import Settings

        engine = make_engine(Settings().resolved_warehouse_url)
        with engine.begin() as conn:
            context.configure(connection=conn, transaction_per_migration=False)
            with context.begin_transaction():
                context.run_migrations()
        engine.dispose()
        return
    context.configure(connection=connection, transaction_per_migration=False)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported: run pulse warehouse upgrade")
run_migrations_online()

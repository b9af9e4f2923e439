"""Alembic environment: runs the revisions in ``versions/`` on the connection ``warehouse.migrations`` passes.

No reflection and no autogenerate (duckdb_engine cannot reflect on SQLAlchemy 2.1): revisions are
explicit ``op.*`` calls written to be idempotent (see ``warehouse/migrations/__init__.py``).
"""
from __future__ import annotations

from alembic import context

from warehouse.resource import Warehouse
from warehouse.migrations import register_duckdb_impl

register_duckdb_impl()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:  # run outside ``warehouse.migrations.upgrade``: alembic -x / sqlalchemy.url
        url = context.get_x_argument(as_dictionary=True).get("url") or context.config.get_main_option("sqlalchemy.url")
        if not url:
            raise SystemExit("no warehouse URL: run pulse warehouse upgrade, or alembic -x url=<warehouse URL>")
        with Warehouse(url) as wh, wh.begin() as conn:
            context.configure(connection=conn, transaction_per_migration=False)
            with context.begin_transaction():
                context.run_migrations()
        return
    context.configure(connection=connection, transaction_per_migration=False)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported: run pulse warehouse upgrade")
run_migrations_online()

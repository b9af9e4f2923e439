"""Baseline: every table the code defines, and PostGIS on PostgreSQL when the server has it.

Revision ID: 0001_baseline
Revises:
Create Date: 2026-11-26

Creates only what is missing (``checkfirst``), so it also adopts a warehouse that
``init_warehouse`` created before migrations existed. It uses the live table definitions on
purpose: a fresh database gets the head schema here, and later revisions are idempotent.
"""
import logging

from alembic import op
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from schemas.errors import ConfigError

revision = "0001_baseline"
down_revision = None
branch_labels = None
depends_on = None

log = logging.getLogger(__name__)


def _create_postgis(bind) -> None:
    if not bind.execute(text("SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'")).first():
        return
    try:
        with bind.begin_nested():
            bind.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
    except DBAPIError as exc:  # e.g. not a superuser: the warehouse works without it (spatial work is in geopandas)
        first = (str(getattr(exc, "orig", exc)).strip().splitlines() or ["error"])[0]
        log.warning("PostGIS not created (%s); a superuser can run CREATE EXTENSION postgis", first)


def upgrade() -> None:
    from warehouse.tables import metadata

    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        _create_postgis(bind)
    metadata.create_all(bind, checkfirst=True)


def downgrade() -> None:
    raise ConfigError("migration 0001_baseline", "downgrading the baseline would drop the whole warehouse",
                      "Restore from a backup, or drop the database yourself")

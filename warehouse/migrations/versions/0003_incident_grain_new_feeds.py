"""Incident grain (reported date, shooting flag, offense counts, fct_incident_offenses) and this round's feeds.

Revision ID: 0003_incident_grain_new_feeds
Revises: 0002_incident_indexes
Create Date: 2026-12-01

Creates every table the code defines that the warehouse lacks (the offense child table, the
medical-examiner, survey, sentiment, arrests, discharges and outcome tables) and adds the columns
``fct_incidents`` gained: ``reported_at``, ``is_shooting``, ``n_offenses`` (1 for feeds with one row
per incident) and ``is_reversed`` (false). Existing rows keep their values; the new columns of
stored incidents are filled with those defaults, which is what they mean for Chicago's feed.
"""
from alembic import op
from sqlalchemy import text

revision = "0003_incident_grain_new_feeds"
down_revision = "0002_incident_indexes"
branch_labels = None
depends_on = None

DEFAULTS = {"n_offenses": "1", "is_reversed": "FALSE"}


def upgrade() -> None:
    from warehouse.migrations import missing_columns
    from warehouse.tables import metadata

    bind = op.get_bind()
    metadata.create_all(bind, checkfirst=True)
    for table, column in missing_columns(bind, metadata):
        col = metadata.tables[table].c[column]
        op.add_column(table, col.copy())
        if column in DEFAULTS:
            bind.execute(text(f'UPDATE "{table}" SET "{column}" = {DEFAULTS[column]}'))


def downgrade() -> None:
    for column in ("reported_at", "is_shooting", "n_offenses", "is_reversed"):
        op.drop_column("fct_incidents", column)
    op.drop_table("fct_incident_offenses")

"""alert_episodes: one row per alert episode, written by the trends flow with trend_signals.

Revision ID: 0004_alert_episodes
Revises: 0003_incident_grain_new_feeds
Create Date: 2026-12-01

A derived table (each trends run replaces it in the transaction that replaces trend_signals and
program_impact), so creating it empty is all an existing warehouse needs; the next trends run
fills it.
"""
from alembic import op

revision = "0004_alert_episodes"
down_revision = "0003_incident_grain_new_feeds"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from warehouse.tables import alert_episodes

    alert_episodes.create(op.get_bind(), checkfirst=True)


def downgrade() -> None:
    op.drop_table("alert_episodes")

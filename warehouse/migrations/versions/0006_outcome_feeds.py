"""Outcome feeds and results (issue 11): fct_arrests, fct_treatment_discharges,
fct_teds_state_discharges with their quarantine tables; the linked restricted tables
(lnk_persons, lnk_outcome_sets), the estimates (outcome_estimates, outcome_curves) and the
suppressed results the outcome marts read (outcome_program_results, outcome_area_treatment,
outcome_survival, outcome_teds_benchmark).

Revision ID: 0006_outcome_feeds
Revises: 0005_health_feeds
Create Date: 2026-12-01

Idempotent: creates only the tables the warehouse lacks.
"""
from alembic import op

revision = "0006_outcome_feeds"
down_revision = "0005_health_feeds"
branch_labels = None
depends_on = None

TABLES = ("fct_arrests", "quarantine_arrests", "fct_treatment_discharges", "quarantine_treatment_discharges",
          "fct_teds_state_discharges", "quarantine_teds_state_discharges", "lnk_persons", "lnk_outcome_sets",
          "outcome_estimates", "outcome_curves", "outcome_program_results", "outcome_area_treatment",
          "outcome_survival", "outcome_teds_benchmark")


def upgrade() -> None:
    from warehouse.tables import metadata

    bind = op.get_bind()
    metadata.create_all(bind, tables=[metadata.tables[t] for t in TABLES], checkfirst=True)


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)

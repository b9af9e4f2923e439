"""Health outcomes and community voice: examiner case versions, export windows, police-unit crosswalk.

Revision ID: 0005_health_feeds
Revises: 0004_alert_episodes
Create Date: 2026-12-01

Creates the tables of issue 12 the warehouse lacks: ``fct_medical_examiner_cases``,
``fct_medical_examiner_case_versions`` (what each export said of a case: the opioid flag's
revision history), ``fct_survey_indicators``, ``fct_police_sentiment``, their quarantine tables,
``ref_death_exports`` (each export's provisional window) and ``dim_police_unit_crosswalk``.
Nothing stored changes.
"""
from alembic import op

revision = "0005_health_feeds"
down_revision = "0004_alert_episodes"
branch_labels = None
depends_on = None

TABLES = ("fct_medical_examiner_cases", "fct_medical_examiner_case_versions", "fct_survey_indicators",
          "fct_police_sentiment", "quarantine_medical_examiner_cases",
           "quarantine_survey_indicators", "quarantine_police_sentiment", "ref_death_exports",
          "dim_police_unit_crosswalk")


def upgrade() -> None:
    from warehouse.tables import metadata

    bind = op.get_bind()
    metadata.create_all(bind, tables=[metadata.tables[t] for t in TABLES], checkfirst=True)


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)

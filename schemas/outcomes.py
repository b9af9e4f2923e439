"""Tables the outcomes step writes (from ``tasks/outcomes``): all restricted (``person_level=True``:
analysts never read them; the dbt marts read them and publish only suppressed aggregates).

- ``LINKED_PERSONS``: one row per person key seen in any person-level feed (``linkage.link_persons``);
- ``OUTCOME_SETS``: one row per member of a matched set with their re-arrest outcomes
  (``cohort.match_comparison`` + ``rearrest.rearrest_outcomes``);
- ``OUTCOME_ESTIMATES``: risk ratios per program (or pooled group), charge and window
  (``risk_ratio.risk_ratio_table``); no person keys, but unsuppressed counts;
- ``OUTCOME_CURVES``: Kaplan-Meier curves per program and role (``survival.rearrest_curves``).
"""
from __future__ import annotations

from schemas.base import Column, EntitySchema

ROLES = ("participant", "comparison")
CHARGES = ("any", "drug")

LINKED_PERSONS = EntitySchema(
    name="linked_persons", table="lnk_persons", grain="one row per person key seen in rosters, arrests or treatment",
    key=("person_key",), person_level=True,
    columns=(
        Column("person_key", "string", nullable=False, doc="Keyed HMAC shared by roster, arrests and treatment feeds."),
        Column("is_participant", "bool", nullable=False),
        Column("first_program_id", "string"),
        Column("first_session_on", "date"),
        Column("n_programs", "int", nullable=False),
        Column("n_arrests", "int", nullable=False),
        Column("first_arrested_on", "date"),
        Column("last_arrested_on", "date"),
        Column("n_drug_arrests", "int", nullable=False),
        Column("n_admissions", "int", nullable=False),
        Column("first_admitted_on", "date"),
        Column("n_discharges", "int", nullable=False),
        Column("n_completed", "int", nullable=False),
    ),
)

_OUTCOME_COLUMNS = tuple(
    Column(f"is_rearrested_{c}_{w}m", "bool", doc=f"Arrest ({c} charge) within {w} months after the index day; "
                                                  "null without complete follow-up.")
    for w in (6, 12) for c in CHARGES)

OUTCOME_SETS = EntitySchema(
    name="outcome_sets", table="lnk_outcome_sets",
    grain="one row per member (participant or comparison person) of a matched set; a comparison person may "
          "appear in several sets",
    key=("set_id", "person_key"), person_level=True,
    columns=(
        Column("set_id", "int", nullable=False, doc="Matched set (one participant); unique within one run."),
        Column("program_id", "string", nullable=False),
        Column("person_key", "string", nullable=False),
        Column("role", "string", nullable=False, allowed=ROLES),
        Column("index_on", "date", nullable=False, doc="The participant's first session (or exit); the set's own date."),
        Column("neighborhood_id", "string", doc="Area of the most recent prior arrest (matched exactly)."),
        Column("age_group", "int", doc="TEDS AGE group at the index date (matched exactly)."),
        Column("sex", "int", doc="TEDS sex code (matched exactly)."),
        Column("prior_band", "int", nullable=False, doc="Arrests in the 12 months before the index date: 1, 2, 3 = 3+."),
        Column("n_prior", "int", nullable=False),
        Column("weight", "float", nullable=False, doc="1 for the participant; 1 / (comparison people in the set)."),
        Column("followup_days", "int", nullable=False),
        Column("days_to_any", "int", doc="Days to the first re-arrest, any charge; null if none by the data end."),
        Column("days_to_drug", "int", doc="Days to the first drug-charge re-arrest."),
        Column("has_followup_6m", "bool", nullable=False),
        Column("has_followup_12m", "bool", nullable=False),
        *_OUTCOME_COLUMNS,
    ),
)

OUTCOME_ESTIMATES = EntitySchema(
    name="outcome_estimates", table="outcome_estimates",
    grain="one row per program (or pooled group), charge and window of a run", key=("program_id", "charge", "window_months"),
    person_level=True,
    columns=(
        Column("program_id", "string", nullable=False, doc="Program id, or a pooled group's label."),
        Column("charge", "string", nullable=False, allowed=CHARGES),
        Column("window_months", "int", nullable=False),
        Column("risk_ratio", "float"), Column("ci_low", "float"), Column("ci_high", "float"),
        Column("n_sets", "int", nullable=False), Column("n_participant_events", "int", nullable=False),
        Column("n_comparison", "int", nullable=False), Column("n_comparison_people", "int", nullable=False),
        Column("n_comparison_events", "int", nullable=False),
        Column("participant_risk", "float"), Column("comparison_risk", "float"),
        Column("is_synthetic", "bool", nullable=False, doc="True when any input feed was synthetic."),
    ),
)

OUTCOME_CURVES = EntitySchema(
    name="outcome_curves", table="outcome_curves",
    grain="one row per program, role, charge and event/censoring day of a Kaplan-Meier curve",
    key=("program_id", "role", "charge", "day"), person_level=True,
    columns=(
        Column("program_id", "string", nullable=False), Column("role", "string", nullable=False, allowed=ROLES),
        Column("charge", "string", nullable=False, allowed=CHARGES), Column("day", "float", nullable=False),
        Column("survival", "float", nullable=False), Column("ci_low", "float"), Column("ci_high", "float"),
        Column("n_at_risk", "float", nullable=False), Column("n_events", "float", nullable=False),
        Column("is_synthetic", "bool", nullable=False),
    ),
)

OUTCOME_TABLES = (LINKED_PERSONS, OUTCOME_SETS, OUTCOME_ESTIMATES, OUTCOME_CURVES)

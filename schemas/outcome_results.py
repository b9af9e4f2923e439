"""Result tables the outcomes step writes for the dbt marts: aggregated and already small-cell
suppressed by ``tasks.outcomes.marts`` (counts in 1..threshold and what is computed from them are
null, ``is_suppressed`` marks the row). Still restricted: analysts read the ``mart_`` models built
over them (which suppress again), never these tables.

- ``PROGRAM_RESULTS``: per program, charge and window (``marts.program_outcomes_mart``);
- ``AREA_TREATMENT_RESULTS``: per neighborhood and year (``marts.area_month_treatment_mart``);
- ``SURVIVAL_RESULTS``: Kaplan-Meier points on a 30-day grid (``marts.curve_mart``);
- ``TEDS_BENCHMARK_RESULTS``: completion and arrests-reduced rates by referral group from the
  real TEDS-D rows (``benchmark.teds_benchmark``); state level and public.
"""
from __future__ import annotations

from typing import NamedTuple

import pandas as pd

from schemas.base import Column, EntitySchema
from schemas.outcomes import CHARGES, ROLES


def _rate(name: str, doc: str) -> tuple[Column, ...]:
    return (Column(name, "float", doc=doc), Column(f"{name}_ci_low", "float", doc="Wilson 95% interval, low."),
            Column(f"{name}_ci_high", "float", doc="Wilson 95% interval, high."))


_FLAGS = (Column("is_suppressed", "bool", nullable=False, doc="A count of the row was small and is null."),
          Column("is_synthetic", "bool", nullable=False, doc="A SYNTHETIC feed (demo arrests) fed the row."))

PROGRAM_RESULTS = EntitySchema(
    name="outcome_program_results", table="outcome_program_results",
    grain="one row per program, charge (any, drug) and window (6, 12 months)",
    key=("program_id", "charge", "window_months"),
    columns=(
        Column("program_id", "string", nullable=False), Column("charge", "string", nullable=False, allowed=CHARGES),
        Column("window_months", "int", nullable=False),
        Column("n_participants", "int", doc="People on the program's roster."),
        Column("n_sets", "int", doc="Participants matched to at least one comparison person, with full follow-up."),
        Column("n_participant_events", "int", doc="Matched participants re-arrested within the window."),
        Column("participant_risk", "float"),
        Column("n_comparison_people", "int", doc="Distinct comparison people of those sets."),
        Column("n_comparison_events", "int", doc="Comparison members re-arrested (unweighted)."),
        Column("comparison_risk", "float", doc="Weighted (1/k per set) comparison risk."),
        Column("risk_ratio", "float"), Column("ci_low", "float"), Column("ci_high", "float"),
        Column("n_uptake_participants", "int", doc="Participants with 12 months of follow-up for uptake."),
        Column("n_admitted", "int", doc="Of those, admitted to treatment within 12 months after the first session."),
        Column("uptake", "float"),
        Column("n_discharges", "int", doc="Discharges of participants' admissions begun after the first session."),
        Column("n_completed", "int"), Column("completion_rate", "float"),
        *_FLAGS,
    ),
)

AREA_TREATMENT_RESULTS = EntitySchema(
    name="outcome_area_treatment", table="outcome_area_treatment",
    grain="one row per neighborhood and year (month = its first day)", key=("neighborhood_id", "month"),
    columns=(
        Column("neighborhood_id", "string", nullable=False), Column("month", "date", nullable=False),
        Column("n_admissions", "int", doc="Admissions with a known referral source."),
        Column("n_criminal_justice", "int", doc="Of those, referred by the criminal justice system (PSOURCE 7)."),
        *_rate("cj_share", "n_criminal_justice / n_admissions."),
        Column("n_discharges", "int"), Column("n_completed", "int"), Column("completion_rate", "float"),
        Column("n_returns_followed", "int", doc="Discharges with 12 months of follow-up."),
        Column("n_returned", "int", doc="Of those, a new admission within 12 months."),
        Column("return_rate", "float"),
        *_FLAGS,
    ),
)

SURVIVAL_RESULTS = EntitySchema(
    name="outcome_survival", table="outcome_survival",
    grain="one row per program, role, charge and day (0, 30, 60, ...) while more than threshold people are at risk",
    key=("program_id", "role", "charge", "day"),
    columns=(
        Column("program_id", "string", nullable=False), Column("role", "string", nullable=False, allowed=ROLES),
        Column("charge", "string", nullable=False, allowed=CHARGES), Column("day", "int", nullable=False),
        Column("survival", "float", doc="Kaplan-Meier share not re-arrested by the day."),
        Column("ci_low", "float"), Column("ci_high", "float"),
        Column("n_at_risk", "int", doc="People (weighted for the comparison) still followed; always > threshold."),
        Column("is_synthetic", "bool", nullable=False),
    ),
)

TEDS_BENCHMARK_RESULTS = EntitySchema(
    name="outcome_teds_benchmark", table="outcome_teds_benchmark",
    grain="one row per referral group (criminal_justice, other, unknown, all) of the TEDS-D rows loaded",
    key=("referral_group",),
    columns=(
        Column("referral_group", "string", nullable=False),
        Column("n_discharges", "int", doc="Discharges with a known reason."), Column("n_completed", "int"),
        *_rate("completion_rate", "REASON = 1 share."),
        Column("n_arrested_at_admission", "int", doc="Discharges with an arrest in the 30 days before admission."),
        Column("n_arrests_reduced", "int", doc="Of those, fewer arrests in the 30 days before discharge."),
        *_rate("arrests_reduced_rate", "n_arrests_reduced / n_arrested_at_admission (upper bound, see docs)."),
    ),
)

OUTCOME_RESULT_TABLES = (PROGRAM_RESULTS, AREA_TREATMENT_RESULTS, SURVIVAL_RESULTS, TEDS_BENCHMARK_RESULTS)


class OutcomeInputs(NamedTuple):
    arrests: pd.DataFrame  # ARRESTS columns (fct_arrests)
    roster: pd.DataFrame  # session_id, participant_key (fct_session_roster)
    sessions: pd.DataFrame  # session_id, program_id, session_date (fct_program_sessions of the evaluated programs)
    admissions: pd.DataFrame  # admission_id, client_key, admitted_on, neighborhood_id, referral_source
    discharges: pd.DataFrame  # TREATMENT_DISCHARGES columns
    teds: pd.DataFrame  # TEDS_STATE_DISCHARGES columns
    is_synthetic: bool  # any person-level input row is synthetic


class OutcomeResults(NamedTuple):
    linked: pd.DataFrame  # LINKED_PERSONS (restricted)
    sets: pd.DataFrame  # OUTCOME_SETS (restricted)
    estimates: pd.DataFrame  # OUTCOME_ESTIMATES (restricted: unsuppressed counts)
    curves: pd.DataFrame  # OUTCOME_CURVES (restricted)
    program: pd.DataFrame  # PROGRAM_RESULTS (suppressed)
    area: pd.DataFrame  # AREA_TREATMENT_RESULTS (suppressed)
    survival: pd.DataFrame  # SURVIVAL_RESULTS (suppressed)
    benchmark: pd.DataFrame  # TEDS_BENCHMARK_RESULTS (public)
    notes: list[str]  # what could not be estimated and why (one line each)

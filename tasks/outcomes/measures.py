"""The outcomes step on loaded rows: linkage, matched re-arrest estimates, survival, treatment
measures and the TEDS-D benchmark, as the frames the warehouse result tables hold.

Input frames are what the warehouse holds (``warehouse.outcome_results.read_outcome_inputs``):
canonical arrests, roster and sessions, admissions, discharges and TEDS-D rows. Person-level
outputs (``linked``, ``sets``) and unsuppressed estimates (``estimates``, ``curves``) go to
restricted tables; ``program``, ``area``, ``survival`` are small-cell suppressed
(``tasks.outcomes.marts``) for the dbt marts; ``benchmark`` is state level and public.
"""
from __future__ import annotations

import pandas as pd

from schemas.outcome_results import (AREA_TREATMENT_RESULTS, PROGRAM_RESULTS, SURVIVAL_RESULTS, TEDS_BENCHMARK_RESULTS,
                                     OutcomeInputs, OutcomeResults)
from schemas.outcomes import LINKED_PERSONS, OUTCOME_CURVES, OUTCOME_ESTIMATES, OUTCOME_SETS
from tasks.outcomes.benchmark import teds_benchmark
from tasks.outcomes.linkage import link_persons, participations, treatment_episodes
from tasks.outcomes.marts import area_month_treatment_mart, curve_mart, participant_completion, program_outcomes_mart
from tasks.outcomes.recovery import program_effects
from tasks.outcomes.treatment import return_to_treatment, treatment_uptake


def _columns(frame: pd.DataFrame, schema) -> pd.DataFrame:
    return schema.coerce(frame.reindex(columns=list(schema.column_names)))


def data_end(arrests: pd.DataFrame) -> pd.Timestamp | None:
    """Return the last arrest day loaded (follow-up is censored there), None without arrests."""
    days = pd.to_datetime(arrests["arrested_on"]).dropna()
    return None if days.empty else days.max().normalize()


def compute_outcomes(inputs: OutcomeInputs, threshold: int, *, k: int = 5, seed: int = 0) -> OutcomeResults:
    """Return every outcome result frame from the loaded rows (``threshold``: small-cell threshold)."""
    synthetic, notes = bool(inputs.is_synthetic), []
    part = participations(inputs.roster, inputs.sessions)
    episodes = treatment_episodes(inputs.admissions, inputs.discharges)
    linked = link_persons(part, inputs.arrests, inputs.admissions, inputs.discharges)
    benchmark = teds_benchmark(inputs.teds) if len(inputs.teds) else pd.DataFrame(columns=TEDS_BENCHMARK_RESULTS.column_names)
    end = data_end(inputs.arrests)
    if end is None or part.empty:
        notes.append("no re-arrest estimates: " + ("no arrests are loaded" if end is None else "no program participants"))
        sets, estimates, curves, program, survival = (
            pd.DataFrame(columns=list(s.column_names))
            for s in (OUTCOME_SETS, OUTCOME_ESTIMATES, OUTCOME_CURVES, PROGRAM_RESULTS, SURVIVAL_RESULTS))
    else:
        effects = program_effects(part, inputs.arrests, end, k=k, seed=seed)
        for reason, n in effects.matching.unmatched["reason"].value_counts().items():
            notes.append(f"{n} participants not matched: {reason}")
        sets = effects.outcomes
        estimates = effects.by_program.assign(is_synthetic=synthetic)
        curves = effects.curves.assign(is_synthetic=synthetic)
        uptake = treatment_uptake(part, inputs.admissions, end)
        completion = participant_completion(part, episodes)
        program = program_outcomes_mart(effects.by_program, part, uptake, completion, threshold, synthetic)
        survival = curve_mart(effects.curves, threshold, is_synthetic=synthetic)
    area_end = end if end is not None else pd.to_datetime(inputs.discharges["discharged_on"]).max()
    if len(inputs.admissions) and pd.notna(area_end):
        returns = return_to_treatment(inputs.admissions, inputs.discharges, area_end)
        area = area_month_treatment_mart(inputs.admissions, inputs.discharges, returns, threshold, synthetic)
    else:
        area = pd.DataFrame(columns=list(AREA_TREATMENT_RESULTS.column_names))
    return OutcomeResults(_columns(linked, LINKED_PERSONS), _columns(sets, OUTCOME_SETS),
                          _columns(estimates, OUTCOME_ESTIMATES), _columns(curves, OUTCOME_CURVES),
                          _columns(program, PROGRAM_RESULTS), _columns(area, AREA_TREATMENT_RESULTS),
                          _columns(survival, SURVIVAL_RESULTS), _columns(benchmark, TEDS_BENCHMARK_RESULTS), notes)

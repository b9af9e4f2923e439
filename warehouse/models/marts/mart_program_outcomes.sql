-- Analyst-facing. Per program, charge (any, drug) and window (6, 12 months): re-arrest of the
-- program's participants vs a matched comparison (exact matching on area, age group, sex and prior
-- arrests; docs/outcomes.md), treatment uptake and completion. Estimated by the outcomes step
-- (flows/outcomes.py -> outcome_program_results, already suppressed there with complements and
-- dependent rates); suppress() here is the second guard. is_synthetic: the demo arrests fed it.
SELECT
    r.program_id,
    p.name AS program_name,
    p.program_type,
    p.neighborhood_id,
    r.charge,
    r.window_months,
    {{ suppress('n_participants') }},
    {{ suppress('n_sets') }},
    {{ suppress('n_participant_events') }},
    r.participant_risk,
    {{ suppress('n_comparison_people') }},
    {{ suppress('n_comparison_events') }},
    r.comparison_risk,
    r.risk_ratio,
    r.ci_low,
    r.ci_high,
    (r.ci_high < 1.0) AS is_lower_risk,
    {{ suppress('n_uptake_participants') }},
    {{ suppress('n_admitted') }},
    r.uptake,
    {{ suppress('n_discharges') }},
    {{ suppress('n_completed') }},
    r.completion_rate,
    r.is_suppressed,
    r.is_synthetic
FROM {{ source('outcomes', 'outcome_program_results') }} AS r
LEFT JOIN {{ source('programs', 'dim_programs') }} AS p ON p.program_id = r.program_id

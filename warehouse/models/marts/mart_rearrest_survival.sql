-- Analyst-facing. Kaplan-Meier share not re-arrested, per program, role (participant,
-- comparison), charge and day (0, 30, 60, ...), with its 95% interval. Points stop where
-- threshold people or fewer are still at risk (the outcomes step drops them; no event counts).
SELECT
    program_id,
    role,
    charge,
    day,
    survival,
    ci_low,
    ci_high,
    {{ suppress('n_at_risk') }},
    is_synthetic
FROM {{ source('outcomes', 'outcome_survival') }}

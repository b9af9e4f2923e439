-- Analyst-facing. Per neighborhood and year (month = January 1): admissions and the share referred
-- by the criminal justice system, discharges and completion, returns to treatment within 12
-- months. Computed by the outcomes step (outcome_area_treatment, suppressed there with complements);
-- suppress() here is the second guard.
SELECT
    t.neighborhood_id,
    n.name AS neighborhood_name,
    t.month AS year_start,
    CAST(extract(year FROM t.month) AS INTEGER) AS year,
    {{ suppress('n_admissions') }},
    {{ suppress('n_criminal_justice') }},
    t.cj_share,
    t.cj_share_ci_low,
    t.cj_share_ci_high,
    {{ suppress('n_discharges') }},
    {{ suppress('n_completed') }},
    t.completion_rate,
    {{ suppress('n_returns_followed') }},
    {{ suppress('n_returned') }},
    t.return_rate,
    t.is_suppressed,
    t.is_synthetic
FROM {{ source('outcomes', 'outcome_area_treatment') }} AS t
LEFT JOIN {{ source('geography', 'dim_neighborhoods') }} AS n ON n.neighborhood_id = t.neighborhood_id

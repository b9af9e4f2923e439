-- Analyst-facing. Police counts are not person-level and are shown as counted; admission counts
-- in 1..small_cell_threshold are NULL with <metric>_suppressed = TRUE. NULL with
-- _suppressed = FALSE means the day is outside the source's coverage (has_*_data = FALSE).
SELECT
    date,
    week_start,
    month_start,
    has_police_data,
    has_treatment_data,
    n_incidents,
    n_drug_incidents,
    n_drug_arrests,
    {{ suppress('n_admissions') }},
    {{ suppress('n_cj_admissions') }},
    {{ suppress('n_opioid_admissions') }}
FROM {{ ref('int_citywide_daily') }}

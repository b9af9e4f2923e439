-- Analyst-facing weekly sums of int_citywide_daily. n_police_days / n_treatment_days say how many
-- days of the week the source covers (fewer than 7 in the first and last weeks: compare with
-- care). Admission counts in 1..small_cell_threshold are NULL with <metric>_suppressed = TRUE.
WITH weekly AS (
    SELECT
        week_start,
        count(*) FILTER (WHERE has_police_data) AS n_police_days,
        count(*) FILTER (WHERE has_treatment_data) AS n_treatment_days,
        CAST(sum(n_incidents) AS BIGINT) AS n_incidents,
        CAST(sum(n_drug_incidents) AS BIGINT) AS n_drug_incidents,
        CAST(sum(n_drug_arrests) AS BIGINT) AS n_drug_arrests,
        CAST(sum(n_admissions) AS BIGINT) AS n_admissions,
        CAST(sum(n_cj_admissions) AS BIGINT) AS n_cj_admissions,
        CAST(sum(n_opioid_admissions) AS BIGINT) AS n_opioid_admissions
    FROM {{ ref('int_citywide_daily') }}
    GROUP BY week_start
)
SELECT
    week_start,
    n_police_days,
    n_treatment_days,
    n_incidents,
    n_drug_incidents,
    n_drug_arrests,
    {{ suppress('n_admissions') }},
    {{ suppress('n_cj_admissions') }},
    {{ suppress('n_opioid_admissions') }}
FROM weekly

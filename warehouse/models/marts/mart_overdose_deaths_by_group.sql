-- Analyst-facing opioid-related deaths in the city per year by one person-level field at a time
-- (age group, sex, race): the only form in which case-level fields reach analysts. Counts in
-- 1..small_cell_threshold are NULL with n_opioid_deaths_suppressed = TRUE.
WITH cases AS (
    SELECT
        CAST(extract(year FROM death_date) AS INTEGER) AS year,
        COALESCE(age_group, 'Unknown') AS age_group,
        COALESCE(sex, 'Unknown') AS sex,
        COALESCE(race, 'Unknown') AS race
    FROM {{ ref('stg_health__medical_examiner_cases') }}
    WHERE is_opioid_related AND neighborhood_id IS NOT NULL
),
counts AS (
    SELECT year, 'age_group' AS breakdown, age_group AS category, count(*) AS n_opioid_deaths
    FROM cases GROUP BY year, age_group
    UNION ALL
    SELECT year, 'sex', sex, count(*) FROM cases GROUP BY year, sex
    UNION ALL
    SELECT year, 'race', race, count(*) FROM cases GROUP BY year, race
)
SELECT
    year,
    breakdown,
    category,
    {{ suppress('n_opioid_deaths') }}
FROM counts

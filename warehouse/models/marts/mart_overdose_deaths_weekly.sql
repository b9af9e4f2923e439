-- Analyst-facing citywide opioid-related deaths per ISO week (Monday start). n_days says how many
-- days of the week the archive covers (fewer than 7 in the first and last weeks). A week
-- touching the provisional window is provisional. Counts in 1..small_cell_threshold are NULL.
WITH weekly AS (
    SELECT
        week_start,
        count(*) AS n_days,
        bool_or(is_provisional) AS is_provisional,
        CAST(sum(n_opioid_deaths) AS BIGINT) AS n_opioid_deaths
    FROM {{ ref('int_overdose_deaths_daily') }}
    GROUP BY week_start
)
SELECT
    week_start,
    n_days,
    is_provisional,
    {{ suppress('n_opioid_deaths') }}
FROM weekly

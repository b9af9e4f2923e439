-- INTERNAL: unsuppressed opioid-related deaths placed in any community area, citywide per local
-- date of death, over the coverage of int_overdose_window (0 where nobody died).
WITH w AS (
    SELECT * FROM {{ ref('int_overdose_window') }}
),
days AS (
    SELECT CAST(t.d AS DATE) AS date
    FROM w
    CROSS JOIN generate_series(CAST(w.first_month AS TIMESTAMP),
                               CAST(CAST(w.last_month AS TIMESTAMP) + INTERVAL '1 month' - INTERVAL '1 day' AS TIMESTAMP),
                               INTERVAL '1 day') AS t(d)
),
deaths AS (
    SELECT death_date AS date, count(*) AS n_opioid_deaths
    FROM {{ ref('stg_health__medical_examiner_cases') }}
    WHERE is_opioid_related AND neighborhood_id IS NOT NULL
    GROUP BY death_date
)
SELECT
    d.date,
    CAST(date_trunc('week', CAST(d.date AS TIMESTAMP)) AS DATE) AS week_start,
    CAST(date_trunc('month', CAST(d.date AS TIMESTAMP)) AS DATE) AS month_start,
    COALESCE(x.n_opioid_deaths, 0) AS n_opioid_deaths,
    COALESCE(d.date >= w.provisional_from, FALSE) AS is_provisional
FROM days d
CROSS JOIN w
LEFT JOIN deaths x ON x.date = d.date

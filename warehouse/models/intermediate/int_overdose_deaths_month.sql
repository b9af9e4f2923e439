-- INTERNAL: unsuppressed opioid-related deaths per community area and month of death (local
-- date), for the pipeline (trends, report); analysts read mart_overdose_deaths_month. Full grid
-- over the coverage months of int_overdose_window: 0 where nobody died. Deaths outside the city
-- (no neighborhood) are not here. n_opioid_deaths_revised counts the deaths an earlier export did
-- not yet flag as opioid-related (flag filled in by a later export: an update, not a new death).
WITH w AS (
    SELECT * FROM {{ ref('int_overdose_window') }}
),
months AS (
    SELECT CAST(t.m AS DATE) AS month_start
    FROM w
    CROSS JOIN generate_series(CAST(w.first_month AS TIMESTAMP), CAST(w.last_month AS TIMESTAMP),
                               INTERVAL '1 month') AS t(m)
),
revised AS (
    SELECT DISTINCT case_number
    FROM {{ ref('stg_health__case_versions') }}
    WHERE NOT is_opioid_related
),
deaths AS (
    SELECT
        c.neighborhood_id,
        c.death_month AS month_start,
        count(*) AS n_opioid_deaths,
        count(*) FILTER (WHERE c.geocode_precision IN ('point', 'snapped', 'area_label')) AS n_opioid_deaths_located,
        count(r.case_number) AS n_opioid_deaths_revised
    FROM {{ ref('stg_health__medical_examiner_cases') }} c
    LEFT JOIN revised r ON r.case_number = c.case_number
    WHERE c.is_opioid_related AND c.neighborhood_id IS NOT NULL
    GROUP BY c.neighborhood_id, c.death_month
)
SELECT
    n.neighborhood_id,
    n.neighborhood_name,
    n.population,
    m.month_start,
    COALESCE(d.n_opioid_deaths, 0) AS n_opioid_deaths,
    COALESCE(d.n_opioid_deaths_located, 0) AS n_opioid_deaths_located,
    COALESCE(d.n_opioid_deaths_revised, 0) AS n_opioid_deaths_revised,
    COALESCE(m.month_start >= w.provisional_from, FALSE) AS is_provisional
FROM {{ ref('stg_neighborhoods') }} n
CROSS JOIN months m
CROSS JOIN w
LEFT JOIN deaths d ON d.neighborhood_id = n.neighborhood_id AND d.month_start = m.month_start

-- Analyst-facing daily police counts for spike detection (EARS C1-C3). Full grid: 0 where
-- nothing was recorded. Police counts are not person-level, so nothing is suppressed here.
WITH coverage AS (
    SELECT first_date, last_date FROM {{ ref('int_source_coverage') }} WHERE domain = 'police'
),
days AS (
    SELECT d.date, d.week_start, d.month_start
    FROM {{ ref('dim_dates') }} d
    JOIN coverage c ON d.date BETWEEN c.first_date AND c.last_date
),
incidents AS (
    SELECT
        neighborhood_id,
        occurred_date AS date,
        count(*) AS n_incidents,
        count(*) FILTER (WHERE is_drug_offense) AS n_drug_incidents,
        count(*) FILTER (WHERE is_drug_offense AND is_arrest) AS n_drug_arrests
    FROM {{ ref('stg_police__incidents') }}
    WHERE neighborhood_id IS NOT NULL
    GROUP BY neighborhood_id, occurred_date
)
SELECT
    n.neighborhood_id,
    n.neighborhood_name,
    d.date,
    d.week_start,
    d.month_start,
    COALESCE(i.n_drug_incidents, 0) AS n_drug_incidents,
    COALESCE(i.n_drug_arrests, 0) AS n_drug_arrests,
    COALESCE(i.n_incidents, 0) AS n_incidents
FROM {{ ref('stg_neighborhoods') }} n
CROSS JOIN days d
LEFT JOIN incidents i ON i.neighborhood_id = n.neighborhood_id AND i.date = d.date

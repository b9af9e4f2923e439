-- INTERNAL: the overdose series' coverage and provisional window, one row. Coverage starts at the
-- first month of the last uninterrupted run of months holding opioid-related deaths (the archive
-- starts 2014-08; one stray January 2014 case is before a gap) and ends with the latest death.
-- The provisional window is the last provisional_months months of the export whose data ends
-- last (ref_death_exports): deaths there are still being certified (opioid flags fill in late).
WITH months AS (
    SELECT DISTINCT death_month
    FROM {{ ref('stg_health__medical_examiner_cases') }}
    WHERE is_opioid_related
),
runs AS (
    SELECT
        death_month,
        CASE WHEN lag(death_month) OVER (ORDER BY death_month)
                  = CAST(death_month - INTERVAL '1 month' AS DATE) THEN 0 ELSE 1 END AS starts_run
    FROM months
),
latest AS (
    SELECT export_label, provisional_months, last_death_date
    FROM {{ ref('stg_health__death_exports') }}
    WHERE last_death_date IS NOT NULL
    ORDER BY last_death_date DESC, export_label
    LIMIT 1
)
SELECT
    (SELECT max(death_month) FROM runs WHERE starts_run = 1) AS first_month,
    (SELECT max(death_month) FROM runs) AS last_month,
    l.export_label AS window_export_label,
    l.provisional_months,
    l.last_death_date,
    CASE WHEN l.provisional_months > 0 THEN CAST(
        date_trunc('month', CAST(l.last_death_date AS TIMESTAMP))
        - (l.provisional_months - 1) * INTERVAL '1 month' AS DATE) END AS provisional_from
FROM (SELECT 1 AS one) o
LEFT JOIN latest l ON TRUE
WHERE EXISTS (SELECT 1 FROM runs)

-- Weeks start on Monday (ISO); day_of_week is ISO (1 = Monday ... 7 = Sunday).
WITH event_bounds AS (
    SELECT min(occurred_date) AS first_day, max(occurred_date) AS last_day
    FROM {{ ref('stg_police__incidents') }}
    UNION ALL
    SELECT min(admitted_on), max(admitted_on)
    FROM {{ ref('stg_treatment__admissions') }}
    UNION ALL
    SELECT min(session_date), max(session_date)
    FROM {{ ref('stg_programs__sessions') }}
),
bounds AS (
    SELECT
        date_trunc('month', CAST(min(first_day) AS TIMESTAMP)) AS first_ts,
        date_trunc('month', CAST(max(last_day) AS TIMESTAMP)) + INTERVAL '1 month' - INTERVAL '1 day' AS last_ts
    FROM event_bounds
),
days AS (
    SELECT CAST(t.d AS DATE) AS date
    FROM bounds
    CROSS JOIN generate_series(bounds.first_ts, bounds.last_ts, INTERVAL '1 day') AS t(d)
    WHERE bounds.first_ts IS NOT NULL
)
SELECT
    date,
    CAST(date_trunc('week', CAST(date AS TIMESTAMP)) AS DATE) AS week_start,
    CAST(date_trunc('month', CAST(date AS TIMESTAMP)) AS DATE) AS month_start,
    CAST(extract(year FROM date) AS INTEGER) AS year,
    CAST(extract(quarter FROM date) AS INTEGER) AS quarter,
    CAST(extract(month FROM date) AS INTEGER) AS month,
    CAST(extract(day FROM date) AS INTEGER) AS day_of_month,
    CAST(extract(isodow FROM date) AS INTEGER) AS day_of_week,
    CAST(extract(isodow FROM date) AS INTEGER) IN (6, 7) AS is_weekend
FROM days

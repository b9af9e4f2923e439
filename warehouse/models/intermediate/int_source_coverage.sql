-- The period each domain has data for. Marts report NULL (no data), not 0, for periods outside
-- it, so a source that starts later or stops earlier does not look like a drop to zero.
-- Facilities are a current snapshot without dates: first_date/last_date are NULL.
WITH spans AS (
    SELECT 'police' AS domain, min(occurred_date) AS first_date, max(occurred_date) AS last_date,
           count(*) AS n_rows
    FROM {{ ref('stg_police__incidents') }}
    UNION ALL
    SELECT 'treatment', min(admitted_on), max(admitted_on), count(admitted_on)
    FROM {{ ref('stg_treatment__admissions') }}
    UNION ALL
    SELECT 'drug_programs', min(s.session_date), max(s.session_date), count(*)
    FROM {{ ref('stg_programs__sessions') }} s
    JOIN {{ ref('stg_programs__programs') }} p ON p.program_id = s.program_id
    WHERE NOT p.is_library
    UNION ALL
    SELECT 'library', min(s.session_date), max(s.session_date), count(*)
    FROM {{ ref('stg_programs__sessions') }} s
    JOIN {{ ref('stg_programs__programs') }} p ON p.program_id = s.program_id
    WHERE p.is_library
    UNION ALL
    SELECT 'facilities', CAST(NULL AS DATE), CAST(NULL AS DATE), count(*)
    FROM {{ ref('stg_facilities') }}
)
SELECT
    domain,
    first_date,
    last_date,
    CAST(date_trunc('month', CAST(first_date AS TIMESTAMP)) AS DATE) AS first_month,
    CAST(date_trunc('month', CAST(last_date AS TIMESTAMP)) AS DATE) AS last_month,
    n_rows
FROM spans

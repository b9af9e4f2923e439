-- Staging over fct_medical_examiner_cases: rename/cast only, no joins. Person-level (age, sex,
-- race, causes): restricted; analysts read only the aggregated, suppressed overdose marts.
SELECT
    case_number,
    export_label,
    CAST(death_date AS DATE) AS death_date,
    CAST(date_trunc('month', CAST(death_date AS TIMESTAMP)) AS DATE) AS death_month,
    manner,
    is_opioid_related,
    age_group,
    sex,
    race,
    neighborhood_id,
    source_area_id,
    geocode_method,
    geocode_precision,
    CAST(edited_at AS TIMESTAMP) AS edited_at,
    source,
    batch_id,
    loaded_at
FROM {{ source('health', 'fct_medical_examiner_cases') }}

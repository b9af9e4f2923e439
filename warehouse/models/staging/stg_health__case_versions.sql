-- Staging over fct_medical_examiner_case_versions: what each export said of each case.
SELECT
    case_number,
    export_label,
    CAST(edited_at AS TIMESTAMP) AS edited_at,
    CAST(death_date AS DATE) AS death_date,
    manner,
    is_opioid_related,
    neighborhood_id
FROM {{ source('health', 'fct_medical_examiner_case_versions') }}

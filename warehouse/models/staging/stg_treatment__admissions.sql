-- Staging over fct_treatment_admissions: rename/cast only, no joins. Codes stay TEDS-A integers
-- (-9 = missing). Person-level: analysts read only the suppressed marts.
SELECT
    admission_id,
    provider_id,
    CAST(admitted_on AS DATE) AS admitted_on,
    client_key,
    age_group,
    sex,
    primary_substance,
    secondary_substance,
    route,
    frequency,
    referral_source,
    prior_episodes,
    service_setting,
    residence_zip,
    is_synthetic,
    neighborhood_id,
    geocode_method,
    geocode_precision,
    match_score,
    source,
    batch_id,
    loaded_at
FROM {{ source('treatment', 'fct_treatment_admissions') }}

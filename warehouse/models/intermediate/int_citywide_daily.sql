-- INTERNAL: unsuppressed daily counts. Includes events without a neighborhood. A count is 0 on a
-- day inside its domain's coverage with nothing recorded and NULL outside it.
WITH coverage AS (
    SELECT
        max(CASE WHEN domain = 'police' THEN first_date END) AS police_first,
        max(CASE WHEN domain = 'police' THEN last_date END) AS police_last,
        max(CASE WHEN domain = 'treatment' THEN first_date END) AS treatment_first,
        max(CASE WHEN domain = 'treatment' THEN last_date END) AS treatment_last
    FROM {{ ref('int_source_coverage') }}
),
days AS (
    SELECT
        d.date,
        d.week_start,
        d.month_start,
        COALESCE(d.date BETWEEN c.police_first AND c.police_last, FALSE) AS has_police_data,
        COALESCE(d.date BETWEEN c.treatment_first AND c.treatment_last, FALSE) AS has_treatment_data
    FROM {{ ref('dim_dates') }} d
    CROSS JOIN coverage c
),
incidents AS (
    SELECT
        occurred_date AS date,
        count(*) AS n_incidents,
        count(*) FILTER (WHERE is_drug_offense) AS n_drug_incidents,
        count(*) FILTER (WHERE is_drug_offense AND is_arrest) AS n_drug_arrests
    FROM {{ ref('stg_police__incidents') }}
    GROUP BY occurred_date
),
admissions AS (
    SELECT
        admitted_on AS date,
        count(*) AS n_admissions,
        count(*) FILTER (WHERE referral_source = {{ int_var('criminal_justice_referral') }}) AS n_cj_admissions,
        count(*) FILTER (WHERE primary_substance IN ({{ int_list_var('opioid_substance_codes') }})) AS n_opioid_admissions
    FROM {{ ref('stg_treatment__admissions') }}
    WHERE admitted_on IS NOT NULL
    GROUP BY admitted_on
)
SELECT
    d.date,
    d.week_start,
    d.month_start,
    d.has_police_data,
    d.has_treatment_data,
    CASE WHEN d.has_police_data THEN COALESCE(i.n_incidents, 0) END AS n_incidents,
    CASE WHEN d.has_police_data THEN COALESCE(i.n_drug_incidents, 0) END AS n_drug_incidents,
    CASE WHEN d.has_police_data THEN COALESCE(i.n_drug_arrests, 0) END AS n_drug_arrests,
    CASE WHEN d.has_treatment_data THEN COALESCE(a.n_admissions, 0) END AS n_admissions,
    CASE WHEN d.has_treatment_data THEN COALESCE(a.n_cj_admissions, 0) END AS n_cj_admissions,
    CASE WHEN d.has_treatment_data THEN COALESCE(a.n_opioid_admissions, 0) END AS n_opioid_admissions
FROM days d
LEFT JOIN incidents i ON i.date = d.date
LEFT JOIN admissions a ON a.date = d.date

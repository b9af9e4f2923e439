-- INTERNAL: unsuppressed counts, for the pipeline (trends, impact) only; analysts read
-- mart_neighborhood_month. A count is 0 when nothing happened in a month the domain covers and
-- NULL in months outside the domain's coverage (int_source_coverage). Events without a
-- neighborhood (ungeocoded) are not in this model; they are in the citywide models.
WITH months AS (
    SELECT DISTINCT month_start FROM {{ ref('dim_dates') }}
),
coverage AS (
    SELECT
        max(CASE WHEN domain = 'police' THEN first_month END) AS police_first,
        max(CASE WHEN domain = 'police' THEN last_month END) AS police_last,
        max(CASE WHEN domain = 'treatment' THEN first_month END) AS treatment_first,
        max(CASE WHEN domain = 'treatment' THEN last_month END) AS treatment_last,
        max(CASE WHEN domain = 'drug_programs' THEN first_month END) AS programs_first,
        max(CASE WHEN domain = 'drug_programs' THEN last_month END) AS programs_last,
        max(CASE WHEN domain = 'library' THEN first_month END) AS library_first,
        max(CASE WHEN domain = 'library' THEN last_month END) AS library_last,
        max(CASE WHEN domain = 'facilities' THEN n_rows END) AS n_facility_listings
    FROM {{ ref('int_source_coverage') }}
),
grid AS (
    SELECT
        n.neighborhood_id,
        n.neighborhood_name,
        n.population,
        m.month_start,
        COALESCE(m.month_start BETWEEN c.police_first AND c.police_last, FALSE) AS has_police_data,
        COALESCE(m.month_start BETWEEN c.treatment_first AND c.treatment_last, FALSE) AS has_treatment_data,
        COALESCE(m.month_start BETWEEN c.programs_first AND c.programs_last, FALSE) AS has_drug_program_data,
        COALESCE(m.month_start BETWEEN c.library_first AND c.library_last, FALSE) AS has_library_data,
        COALESCE(c.n_facility_listings > 0, FALSE) AS has_facility_data
    FROM {{ ref('stg_neighborhoods') }} n
    CROSS JOIN months m
    CROSS JOIN coverage c
),
incidents AS (
    SELECT
        i.neighborhood_id,
        d.month_start,
        count(*) AS n_incidents,
        count(*) FILTER (WHERE i.is_drug_offense) AS n_drug_incidents,
        count(*) FILTER (WHERE i.is_drug_offense AND i.is_arrest) AS n_drug_arrests,
        count(*) FILTER (WHERE i.offense_category = 'possession') AS n_possession_incidents,
        count(*) FILTER (WHERE i.offense_category = 'sale_delivery') AS n_sale_delivery_incidents
    FROM {{ ref('stg_police__incidents') }} i
    JOIN {{ ref('dim_dates') }} d ON d.date = i.occurred_date
    WHERE i.neighborhood_id IS NOT NULL
    GROUP BY i.neighborhood_id, d.month_start
),
admissions AS (
    SELECT
        a.neighborhood_id,
        d.month_start,
        count(*) AS n_admissions,
        count(*) FILTER (WHERE a.referral_source = {{ int_var('criminal_justice_referral') }}) AS n_cj_admissions,
        count(*) FILTER (WHERE a.primary_substance IN ({{ int_list_var('opioid_substance_codes') }})) AS n_opioid_admissions
    FROM {{ ref('stg_treatment__admissions') }} a
    JOIN {{ ref('dim_dates') }} d ON d.date = a.admitted_on
    WHERE a.neighborhood_id IS NOT NULL
    GROUP BY a.neighborhood_id, d.month_start
),
sessions AS (
    SELECT
        p.neighborhood_id,
        d.month_start,
        count(*) FILTER (WHERE NOT p.is_library) AS n_program_sessions,
        CAST(sum(CASE WHEN NOT p.is_library THEN s.attendees END) AS BIGINT) AS n_program_attendees,
        CAST(sum(CASE WHEN p.is_library THEN s.attendees END) AS BIGINT) AS n_library_visits
    FROM {{ ref('stg_programs__sessions') }} s
    JOIN {{ ref('stg_programs__programs') }} p ON p.program_id = s.program_id
    JOIN {{ ref('dim_dates') }} d ON d.date = s.session_date
    WHERE p.neighborhood_id IS NOT NULL
    GROUP BY p.neighborhood_id, d.month_start
),
participants AS (
    SELECT
        p.neighborhood_id,
        d.month_start,
        count(DISTINCT r.participant_key) AS n_program_participants
    FROM {{ ref('stg_programs__roster') }} r
    JOIN {{ ref('stg_programs__sessions') }} s ON s.session_id = r.session_id
    JOIN {{ ref('stg_programs__programs') }} p ON p.program_id = s.program_id
    JOIN {{ ref('dim_dates') }} d ON d.date = s.session_date
    WHERE p.neighborhood_id IS NOT NULL AND NOT p.is_library
    GROUP BY p.neighborhood_id, d.month_start
),
facilities AS (
    -- NOTE: the source lists overlap, so count distinct sites (house number + ZIP), not listings.
    SELECT
        neighborhood_id,
        count(DISTINCT COALESCE(zip || '|' || split_part(street, ' ', 1), facility_id)) AS n_treatment_facilities,
        count(DISTINCT CASE WHEN is_otp THEN COALESCE(zip || '|' || split_part(street, ' ', 1), facility_id) END)
            AS n_otp_facilities
    FROM {{ ref('stg_facilities') }}
    WHERE neighborhood_id IS NOT NULL
    GROUP BY neighborhood_id
)
SELECT
    g.neighborhood_id,
    g.neighborhood_name,
    g.month_start,
    g.population,
    g.has_police_data,
    g.has_treatment_data,
    g.has_drug_program_data,
    g.has_library_data,
    CASE WHEN g.has_police_data THEN COALESCE(i.n_incidents, 0) END AS n_incidents,
    CASE WHEN g.has_police_data THEN COALESCE(i.n_drug_incidents, 0) END AS n_drug_incidents,
    CASE WHEN g.has_police_data THEN COALESCE(i.n_drug_arrests, 0) END AS n_drug_arrests,
    CASE WHEN g.has_police_data THEN COALESCE(i.n_possession_incidents, 0) END AS n_possession_incidents,
    CASE WHEN g.has_police_data THEN COALESCE(i.n_sale_delivery_incidents, 0) END AS n_sale_delivery_incidents,
    CASE WHEN g.has_treatment_data THEN COALESCE(a.n_admissions, 0) END AS n_admissions,
    CASE WHEN g.has_treatment_data THEN COALESCE(a.n_cj_admissions, 0) END AS n_cj_admissions,
    CASE WHEN g.has_treatment_data THEN COALESCE(a.n_opioid_admissions, 0) END AS n_opioid_admissions,
    CASE WHEN g.has_drug_program_data THEN COALESCE(s.n_program_sessions, 0) END AS n_program_sessions,
    CASE WHEN g.has_drug_program_data THEN COALESCE(s.n_program_attendees, 0) END AS n_program_attendees,
    CASE WHEN g.has_drug_program_data THEN COALESCE(pp.n_program_participants, 0) END AS n_program_participants,
    CASE WHEN g.has_library_data THEN COALESCE(s.n_library_visits, 0) END AS n_library_visits,
    CASE WHEN g.has_facility_data THEN COALESCE(f.n_treatment_facilities, 0) END AS n_treatment_facilities,
    CASE WHEN g.has_facility_data THEN COALESCE(f.n_otp_facilities, 0) END AS n_otp_facilities
FROM grid g
LEFT JOIN incidents i ON i.neighborhood_id = g.neighborhood_id AND i.month_start = g.month_start
LEFT JOIN admissions a ON a.neighborhood_id = g.neighborhood_id AND a.month_start = g.month_start
LEFT JOIN sessions s ON s.neighborhood_id = g.neighborhood_id AND s.month_start = g.month_start
LEFT JOIN participants pp ON pp.neighborhood_id = g.neighborhood_id AND pp.month_start = g.month_start
LEFT JOIN facilities f ON f.neighborhood_id = g.neighborhood_id

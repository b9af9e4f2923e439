-- grain: one row per neighborhood (community area) and calendar month of dim_dates (full grid)
-- materialized: table
-- Analyst-facing. Counts are 0 where nothing happened in a month the source covers and NULL
-- outside its coverage (has_*_data = FALSE). Counts of people (admissions, program attendance,
-- participants, library visits) in 1..small_cell_threshold are NULL with <metric>_suppressed =
-- TRUE, and so is every rate computed from them. Police counts, session counts and facility
-- counts are not person-level and are never suppressed. Rates are per 10,000 residents (2010).
WITH suppressed AS (
    SELECT
        neighborhood_id,
        neighborhood_name,
        month_start,
        population_2010,
        has_police_data,
        has_treatment_data,
        has_drug_program_data,
        has_library_data,
        n_incidents,
        n_drug_incidents,
        n_drug_arrests,
        n_possession_incidents,
        n_sale_delivery_incidents,
        {{ suppress('n_admissions') }},
        {{ suppress('n_cj_admissions') }},
        {{ suppress('n_opioid_admissions') }},
        n_program_sessions,
        {{ suppress('n_program_attendees') }},
        {{ suppress('n_program_participants') }},
        {{ suppress('n_library_visits') }},
        n_treatment_facilities,
        n_otp_facilities
    FROM {{ ref('int_neighborhood_month') }}
)
SELECT
    neighborhood_id,
    neighborhood_name,
    month_start,
    CAST(extract(year FROM month_start) AS INTEGER) AS year,
    CAST(extract(month FROM month_start) AS INTEGER) AS month,
    population_2010,
    has_police_data,
    has_treatment_data,
    has_drug_program_data,
    has_library_data,
    n_incidents,
    n_drug_incidents,
    n_drug_arrests,
    n_possession_incidents,
    n_sale_delivery_incidents,
    n_admissions,
    n_admissions_suppressed,
    n_cj_admissions,
    n_cj_admissions_suppressed,
    n_opioid_admissions,
    n_opioid_admissions_suppressed,
    n_program_sessions,
    n_program_attendees,
    n_program_attendees_suppressed,
    n_program_participants,
    n_program_participants_suppressed,
    n_library_visits,
    n_library_visits_suppressed,
    n_treatment_facilities,
    n_otp_facilities,
    CAST(n_drug_incidents AS DOUBLE PRECISION) * 10000 / NULLIF(population_2010, 0) AS drug_incidents_per_10k,
    CAST(n_drug_arrests AS DOUBLE PRECISION) * 10000 / NULLIF(population_2010, 0) AS drug_arrests_per_10k,
    CAST(n_admissions AS DOUBLE PRECISION) * 10000 / NULLIF(population_2010, 0) AS admissions_per_10k,
    CAST(n_cj_admissions AS DOUBLE PRECISION) * 10000 / NULLIF(population_2010, 0) AS cj_admissions_per_10k,
    CAST(n_opioid_admissions AS DOUBLE PRECISION) * 10000 / NULLIF(population_2010, 0) AS opioid_admissions_per_10k
FROM suppressed

-- Analyst-facing opioid-related deaths per community area and month of death (Cook County
-- Medical Examiner, local date). Deaths are counts of people: 1..small_cell_threshold is NULL
-- with n_opioid_deaths_suppressed = TRUE, and so is the rate. is_provisional marks the months
-- still being certified (the provisional window of int_overdose_window): compare them with care.
-- Join mart_neighborhood_month on (neighborhood_id, month_start) for drug incidents and arrests.
WITH suppressed AS (
    SELECT
        neighborhood_id,
        neighborhood_name,
        month_start,
        population,
        is_provisional,
        {{ suppress('n_opioid_deaths') }},
        {{ suppress('n_opioid_deaths_revised') }}
    FROM {{ ref('int_overdose_deaths_month') }}
)
SELECT
    neighborhood_id,
    neighborhood_name,
    month_start,
    CAST(extract(year FROM month_start) AS INTEGER) AS year,
    population,
    is_provisional,
    n_opioid_deaths,
    n_opioid_deaths_suppressed,
    n_opioid_deaths_revised,
    n_opioid_deaths_revised_suppressed,
    CAST(n_opioid_deaths AS DOUBLE PRECISION) * 10000 / NULLIF(population, 0) AS opioid_deaths_per_10k
FROM suppressed

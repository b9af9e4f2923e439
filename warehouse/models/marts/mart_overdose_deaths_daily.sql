-- Analyst-facing citywide opioid-related deaths per local date of death (deaths placed in a
-- community area). Counts in 1..small_cell_threshold are NULL with n_opioid_deaths_suppressed.
SELECT
    date,
    week_start,
    month_start,
    is_provisional,
    {{ suppress('n_opioid_deaths') }}
FROM {{ ref('int_overdose_deaths_daily') }}

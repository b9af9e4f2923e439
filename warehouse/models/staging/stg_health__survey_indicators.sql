-- Staging over fct_survey_indicators: Health Atlas estimates per community area, as published.
SELECT
    indicator_row_id,
    indicator_code,
    indicator_name,
    program,
    is_survey,
    measure,
    period_label,
    CAST(period_start_year AS INTEGER) AS period_start_year,
    CAST(period_end_year AS INTEGER) AS period_end_year,
    neighborhood_id,
    estimate,
    ci_lower,
    ci_upper,
    CAST(sample_size AS BIGINT) AS sample_size,
    is_suppressed,
    source_file
FROM {{ source('health', 'fct_survey_indicators') }}

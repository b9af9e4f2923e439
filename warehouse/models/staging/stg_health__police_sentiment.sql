-- Staging over fct_police_sentiment: CPD/Elucd scores per police unit and period (0-100).
SELECT
    sentiment_id,
    unit_level,
    unit_id,
    CAST(period_start AS DATE) AS period_start,
    CAST(period_end AS DATE) AS period_end,
    period_kind,
    safety,
    trust
FROM {{ source('health', 'fct_police_sentiment') }}

SELECT
    code,
    label,
    is_missing,
    frequency_2017,
    CAST(frequency_2017 AS DOUBLE PRECISION) / NULLIF(sum(frequency_2017) OVER (), 0) AS share_2017
FROM {{ ref('stg_codes__teds_codes') }}
WHERE variable = 'AGE'

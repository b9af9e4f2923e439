-- is_criminal_justice: court/criminal justice referral, DUI/DWI (schemas/teds_codes.py).
SELECT
    code,
    label,
    is_missing,
    code = {{ int_var('criminal_justice_referral') }} AS is_criminal_justice,
    frequency_2017,
    CAST(frequency_2017 AS DOUBLE PRECISION) / NULLIF(sum(frequency_2017) OVER (), 0) AS share_2017
FROM {{ ref('stg_codes__teds_codes') }}
WHERE variable = 'PSOURCE'

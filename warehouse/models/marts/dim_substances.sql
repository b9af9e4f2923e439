-- is_opioid: heroin, non-prescription methadone, other opiates and synthetics
-- (schemas/teds_codes.py OPIOID_SUBSTANCE_CODES).
SELECT
    code,
    label,
    is_missing,
    code IN ({{ int_list_var('opioid_substance_codes') }}) AS is_opioid,
    frequency_2017,
    CAST(frequency_2017 AS DOUBLE PRECISION) / NULLIF(sum(frequency_2017) OVER (), 0) AS share_2017
FROM {{ ref('stg_codes__teds_codes') }}
WHERE variable = 'SUB1'

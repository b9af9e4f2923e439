-- Staging over ref_teds_codes (the TEDS-A 2017 codebook, loaded from the shared data folder by
-- warehouse/code_tables.py): rename/cast only, no joins.
SELECT
    variable,
    code,
    label,
    is_missing,
    frequency_2017
FROM {{ source('codes', 'ref_teds_codes') }}

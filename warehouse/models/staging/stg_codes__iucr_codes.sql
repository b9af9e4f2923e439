-- Staging over ref_iucr_codes (loaded from the shared data folder by warehouse/code_tables.py):
-- rename/cast only, no joins.
SELECT
    iucr,
    iucr_normalized,
    primary_description,
    secondary_description,
    index_code,
    offense_category,
    is_drug_offense,
    nibrs_code,
    is_supplementary
FROM {{ source('codes', 'ref_iucr_codes') }}

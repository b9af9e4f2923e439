-- From the ref_iucr_codes code table (published lookup + supplementary firearm codes). Join incidents
-- on iucr; offense_category and nibrs_code follow schemas/iucr_codes.py.
SELECT
    iucr,
    iucr_normalized,
    primary_description,
    secondary_description,
    index_code,
    offense_category,
    is_drug_offense,
    nibrs_code,
    CASE nibrs_code
        WHEN '35A' THEN 'Drug/Narcotic Violations'
        WHEN '35B' THEN 'Drug Equipment Violations'
    END AS nibrs_description,
    is_supplementary
FROM {{ ref('stg_codes__iucr_codes') }}

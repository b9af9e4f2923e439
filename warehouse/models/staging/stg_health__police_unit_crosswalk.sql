-- Staging over dim_police_unit_crosswalk: district/sector -> community area weights.
SELECT
    unit_level,
    unit_id,
    neighborhood_id,
    weight
FROM {{ source('health', 'dim_police_unit_crosswalk') }}

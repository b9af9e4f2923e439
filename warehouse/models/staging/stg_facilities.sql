-- Staging over dim_treatment_facilities: rename/cast only, no joins.
-- NOTE: the three source lists overlap (OTP and methadone lists repeat locator facilities);
-- int_neighborhood_month counts distinct sites (house number + ZIP), not listings.
SELECT
    facility_id,
    name AS facility_name,
    source,
    street,
    city,
    state,
    zip,
    latitude,
    longitude,
    is_otp,
    neighborhood_id,
    geocode_precision,
    batch_id,
    loaded_at
FROM {{ source('treatment', 'dim_treatment_facilities') }}

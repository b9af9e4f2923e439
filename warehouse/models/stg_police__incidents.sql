-- grain: one row per police incident (incident_id), all offense types
-- materialized: view
-- Staging over the loader-maintained fct_incidents: rename/cast only, no joins.
-- occurred_at is local wall-clock time (America/Chicago for Chicago); occurred_date is its date.
SELECT
    incident_id,
    case_number,
    occurred_at,
    CAST(occurred_at AS DATE) AS occurred_date,
    iucr,
    primary_type,
    description AS offense_description,
    fbi_code,
    offense_category,
    is_drug_offense,
    nibrs_code,
    is_arrest,
    is_domestic,
    location_description,
    block,
    beat,
    district,
    ward,
    latitude,
    longitude,
    source_area_id,
    neighborhood_id,
    geocode_method,
    geocode_precision,
    snap_distance_m,
    updated_at,
    source,
    batch_id,
    loaded_at
FROM {{ source('fct_incidents') }}

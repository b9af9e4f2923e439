-- Staging over dim_programs: rename/cast only, no joins.
SELECT
    program_id,
    name AS program_name,
    program_type,
    program_type = 'library' AS is_library,
    sponsor,
    site_name,
    latitude,
    longitude,
    neighborhood_id,
    geocode_method,
    geocode_precision,
    CAST(started_on AS DATE) AS started_on,
    CAST(ended_on AS DATE) AS ended_on,
    is_synthetic,
    source,
    batch_id,
    loaded_at
FROM {{ source('programs', 'dim_programs') }}

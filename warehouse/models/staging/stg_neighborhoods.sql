-- Staging over dim_neighborhoods without the polygon text.
SELECT
    neighborhood_id,
    name AS neighborhood_name,
    population_2010,
    area_km2,
    centroid_lat,
    centroid_lon
FROM {{ source('geography', 'dim_neighborhoods') }}

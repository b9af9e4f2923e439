-- Staging over dim_neighborhoods without the polygon text. The loaded column population_2010 holds
-- whatever population table the city config names (its source: [neighborhoods] population_source).
SELECT
    neighborhood_id,
    name AS neighborhood_name,
    population_2010 AS population,
    area_km2,
    centroid_lat,
    centroid_lon
FROM {{ source('geography', 'dim_neighborhoods') }}

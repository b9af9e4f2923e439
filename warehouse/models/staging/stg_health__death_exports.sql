-- Staging over ref_death_exports: each examiner export's provisional (data-lag) window.
SELECT
    export_label,
    source,
    layout,
    CAST(provisional_months AS INTEGER) AS provisional_months,
    CAST(last_death_date AS DATE) AS last_death_date
FROM {{ source('health', 'ref_death_exports') }}

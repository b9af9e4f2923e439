-- Quarantined rows counted by reason (a row failing two checks counts once under each). The
-- offending values stay in the restricted quarantine_* tables.
SELECT
    source,
    entity,
    batch_id,
    expectation,
    column_name,
    reason,
    count(DISTINCT row_index) AS n_rows,
    min(source_row) AS first_source_row,
    max(quarantined_at) AS quarantined_at
FROM {{ ref('stg_warehouse__quarantine') }}
GROUP BY source, entity, batch_id, expectation, column_name, reason

-- grain: one row per batch load attempt (audit_id)
-- materialized: view
SELECT
    audit_id,
    batch_id,
    flow_run_id,
    source,
    entity,
    source_path,
    status,
    rows_read,
    rows_loaded,
    rows_quarantined,
    rows_inserted,
    rows_updated,
    rows_unchanged,
    validation_success,
    message,
    started_at,
    finished_at
FROM {{ source('load_audit') }}

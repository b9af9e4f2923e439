-- Rows read / loaded / quarantined per source and batch, with the batch's most frequent
-- quarantine reason. For counts by every reason use mart_quarantine_reasons. Counts of records
-- failing a check carry no person attributes or geography and are not suppressed. The audit's
-- free-text message (it can quote input values) stays in the restricted load_audit table.
WITH reasons AS (
    SELECT
        entity,
        batch_id,
        expectation,
        column_name,
        reason,
        count(DISTINCT row_index) AS n_rows
    FROM {{ ref('stg_warehouse__quarantine') }}
    GROUP BY entity, batch_id, expectation, column_name, reason
),
ranked AS (
    SELECT
        entity,
        batch_id,
        reason,
        n_rows,
        count(*) OVER (PARTITION BY entity, batch_id) AS n_reasons,
        row_number() OVER (PARTITION BY entity, batch_id ORDER BY n_rows DESC, reason) AS rank_in_batch
    FROM reasons
),
stored AS (
    SELECT entity, batch_id, count(DISTINCT row_index) AS n_rows_in_quarantine
    FROM {{ ref('stg_warehouse__quarantine') }}
    GROUP BY entity, batch_id
)
SELECT
    a.source,
    a.entity,
    a.batch_id,
    a.source_path,
    a.status,
    a.started_at,
    a.finished_at,
    a.rows_read,
    a.rows_loaded,
    a.rows_quarantined,
    a.rows_inserted,
    a.rows_updated,
    a.rows_unchanged,
    CASE WHEN a.rows_read > 0 THEN CAST(a.rows_quarantined AS DOUBLE PRECISION) / a.rows_read END
        AS share_quarantined,
    a.validation_success,
    CASE WHEN a.status = 'loaded' THEN COALESCE(s.n_rows_in_quarantine, 0) END AS n_rows_in_quarantine,
    CASE WHEN a.status = 'loaded' THEN COALESCE(r.n_reasons, 0) END AS n_quarantine_reasons,
    CASE WHEN a.status = 'loaded' THEN r.reason END AS top_quarantine_reason,
    CASE WHEN a.status = 'loaded' THEN r.n_rows END AS top_quarantine_reason_rows
FROM {{ ref('stg_warehouse__load_audit') }} a
LEFT JOIN stored s ON s.entity = a.entity AND s.batch_id = a.batch_id
LEFT JOIN ranked r ON r.entity = a.entity AND r.batch_id = a.batch_id AND r.rank_in_batch = 1

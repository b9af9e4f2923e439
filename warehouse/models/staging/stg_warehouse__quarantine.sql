-- The quarantine tables stacked, without the offending value, record id or raw record
-- (they can hold person-level text). Add a branch here when an entity is added.
SELECT 'incidents' AS entity, source, batch_id, row_index, source_row, expectation, column_name, reason, quarantined_at
FROM {{ source('police', 'quarantine_incidents') }}
UNION ALL
SELECT 'treatment_admissions' AS entity, source, batch_id, row_index, source_row, expectation, column_name, reason, quarantined_at
FROM {{ source('treatment', 'quarantine_treatment_admissions') }}
UNION ALL
SELECT 'teds_state_admissions' AS entity, source, batch_id, row_index, source_row, expectation, column_name, reason, quarantined_at
FROM {{ source('treatment', 'quarantine_teds_state_admissions') }}
UNION ALL
SELECT 'treatment_facilities' AS entity, source, batch_id, row_index, source_row, expectation, column_name, reason, quarantined_at
FROM {{ source('treatment', 'quarantine_treatment_facilities') }}
UNION ALL
SELECT 'programs' AS entity, source, batch_id, row_index, source_row, expectation, column_name, reason, quarantined_at
FROM {{ source('programs', 'quarantine_programs') }}
UNION ALL
SELECT 'program_sessions' AS entity, source, batch_id, row_index, source_row, expectation, column_name, reason, quarantined_at
FROM {{ source('programs', 'quarantine_program_sessions') }}
UNION ALL
SELECT 'session_roster' AS entity, source, batch_id, row_index, source_row, expectation, column_name, reason, quarantined_at
FROM {{ source('programs', 'quarantine_session_roster') }}
UNION ALL
SELECT 'medical_examiner_cases' AS entity, source, batch_id, row_index, source_row, expectation, column_name, reason, quarantined_at
FROM {{ source('health', 'quarantine_medical_examiner_cases') }}
UNION ALL
SELECT 'survey_indicators' AS entity, source, batch_id, row_index, source_row, expectation, column_name, reason, quarantined_at
FROM {{ source('health', 'quarantine_survey_indicators') }}
UNION ALL
SELECT 'police_sentiment' AS entity, source, batch_id, row_index, source_row, expectation, column_name, reason, quarantined_at
FROM {{ source('health', 'quarantine_police_sentiment') }}
UNION ALL
SELECT 'arrests' AS entity, source, batch_id, row_index, source_row, expectation, column_name, reason, quarantined_at
FROM {{ source('outcomes', 'quarantine_arrests') }}
UNION ALL
SELECT 'treatment_discharges' AS entity, source, batch_id, row_index, source_row, expectation, column_name, reason, quarantined_at
FROM {{ source('outcomes', 'quarantine_treatment_discharges') }}
UNION ALL
SELECT 'teds_state_discharges' AS entity, source, batch_id, row_index, source_row, expectation, column_name, reason, quarantined_at
FROM {{ source('outcomes', 'quarantine_teds_state_discharges') }}

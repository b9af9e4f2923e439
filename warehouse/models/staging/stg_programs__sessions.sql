-- Staging over fct_program_sessions: rename/cast only, no joins. Library (CPL) rows are monthly
-- door counts (period = 'month', session_date = first of the month).
SELECT
    session_id,
    program_id,
    CAST(session_date AS DATE) AS session_date,
    period,
    attendees,
    new_participants,
    is_synthetic,
    source,
    batch_id,
    loaded_at
FROM {{ source('programs', 'fct_program_sessions') }}

-- Staging over fct_session_roster: rename/cast only, no joins. participant_key is a keyed HMAC.
SELECT
    session_id,
    participant_key,
    is_synthetic,
    source,
    batch_id,
    loaded_at
FROM {{ source('programs', 'fct_session_roster') }}

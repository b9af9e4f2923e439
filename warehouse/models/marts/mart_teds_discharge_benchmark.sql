-- Analyst-facing. The national benchmark from the real TEDS-D public-use rows: treatment completion
-- and arrests-reduced rates by referral group (criminal_justice = PSOURCE 7, other, unknown, all),
-- with Wilson 95% intervals. State-level public data, already disclosure-protected: not suppressed.
SELECT
    referral_group,
    n_discharges,
    n_completed,
    completion_rate,
    completion_rate_ci_low,
    completion_rate_ci_high,
    n_arrested_at_admission,
    n_arrests_reduced,
    arrests_reduced_rate,
    arrests_reduced_rate_ci_low,
    arrests_reduced_rate_ci_high
FROM {{ source('outcomes', 'outcome_teds_benchmark') }}

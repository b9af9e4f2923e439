-- Analyst-facing community voice per community area: Healthy Chicago Survey estimates (% of
-- adults, 2-year pooled periods; interval and sample base where the Atlas publishes them) and
-- CPD/Elucd sentiment scores (0-100, monthly) carried from police districts and sectors to
-- community areas by the population-weighted crosswalk (dim_police_unit_crosswalk): an area's
-- score is the weighted mean of the units covering it; coverage = the weight of units that
-- reported (1 = all). Published aggregates, not counts of people: nothing to suppress.
WITH survey AS (
    SELECT
        neighborhood_id,
        'healthy_chicago_survey' AS source,
        'community_area' AS unit_level,
        indicator_code,
        indicator_name,
        period_label,
        CAST(make_date(period_start_year, 1, 1) AS DATE) AS period_start,
        CAST(make_date(period_end_year, 12, 31) AS DATE) AS period_end,
        estimate,
        ci_lower,
        ci_upper,
        sample_size,
        is_suppressed,
        CAST(1.0 AS DOUBLE PRECISION) AS coverage
    FROM {{ ref('stg_health__survey_indicators') }}
    WHERE is_survey AND measure = 'percent'
),
monthly AS (
    SELECT unit_level, unit_id, period_start, period_end, safety, trust
    FROM {{ ref('stg_health__police_sentiment') }}
    WHERE unit_level IN ('district', 'sector') AND period_kind = 'month'
),
scores AS (
    SELECT unit_level, unit_id, period_start, period_end, 'CPD_SAFETY' AS indicator_code, safety AS score FROM monthly
    UNION ALL
    SELECT unit_level, unit_id, period_start, period_end, 'CPD_TRUST', trust FROM monthly
),
carried AS (
    SELECT
        w.neighborhood_id,
        s.unit_level,
        s.indicator_code,
        s.period_start,
        s.period_end,
        sum(s.score * w.weight) / sum(w.weight) AS estimate,
        sum(w.weight) AS coverage
    FROM scores s
    JOIN {{ ref('stg_health__police_unit_crosswalk') }} w ON w.unit_level = s.unit_level AND w.unit_id = s.unit_id
    WHERE s.score IS NOT NULL
    GROUP BY w.neighborhood_id, s.unit_level, s.indicator_code, s.period_start, s.period_end
),
sentiment AS (
    SELECT
        neighborhood_id,
        'police_sentiment' AS source,
        unit_level,
        indicator_code,
        CASE indicator_code WHEN 'CPD_SAFETY' THEN 'Police sentiment: how safe residents feel (0-100)'
                            ELSE 'Police sentiment: trust in police (0-100)' END AS indicator_name,
        CAST(strftime_compat AS TEXT) AS period_label,
        period_start,
        period_end,
        estimate,
        CAST(NULL AS DOUBLE PRECISION) AS ci_lower,
        CAST(NULL AS DOUBLE PRECISION) AS ci_upper,
        CAST(NULL AS BIGINT) AS sample_size,
        FALSE AS is_suppressed,
        CAST(round(CAST(coverage AS NUMERIC), 6) AS DOUBLE PRECISION) AS coverage
    FROM (SELECT *, CAST(extract(year FROM period_start) AS INTEGER) || '-'
                    || lpad(CAST(CAST(extract(month FROM period_start) AS INTEGER) AS TEXT), 2, '0') AS strftime_compat
          FROM carried) c
),
unioned AS (
    SELECT * FROM survey
    UNION ALL
    SELECT * FROM sentiment
)
SELECT
    u.neighborhood_id,
    n.neighborhood_name,
    u.source,
    u.unit_level,
    u.indicator_code,
    u.indicator_name,
    u.period_label,
    u.period_start,
    u.period_end,
    u.estimate,
    u.ci_lower,
    u.ci_upper,
    u.sample_size,
    u.is_suppressed,
    u.coverage
FROM unioned u
JOIN {{ ref('stg_neighborhoods') }} n ON n.neighborhood_id = u.neighborhood_id

"""Canonical community-voice entities: survey indicators per area, police sentiment per district.

- ``SURVEY_INDICATORS``: one row per indicator, period and community area of a Chicago Health
  Atlas download (Healthy Chicago Survey ``HCS*`` indicators and the Atlas's other indicators in
  the same file, e.g. ACS poverty). Published estimates, not person-level. ``ci_lower``,
  ``ci_upper`` and ``sample_size`` are filled only where the file publishes them (the 2021-2023
  downloads do not); a blank cell is a suppressed estimate (``is_suppressed``), not an error.
- ``SENTIMENT_SCORES``: one row per CPD/Elucd Police Sentiment Score row (unit x period): the
  unit is a police sector, district, CPD area, bureau or the whole city; periods are calendar
  months (district and sector) or 6-day weeks (city and bureau, 2017-2018). Scores are 0-100.
"""
from __future__ import annotations

from schemas.base import Column, EntitySchema

MEASURES = ("percent", "count", "rate", "index", "value")
UNIT_LEVELS = ("sector", "district", "area", "bureau", "city")
PERIOD_KINDS = ("month", "week", "other")

SURVEY_INDICATORS = EntitySchema(
    name="survey_indicators",
    table="fct_survey_indicators",
    grain="one row per indicator x period x community area (indicator_row_id)",
    key=("indicator_row_id",),
    columns=(
        Column("indicator_row_id", "string", nullable=False, doc="<indicator_code>|<period_label>|<area id>."),
        Column("indicator_code", "string", nullable=False, doc="Atlas code without the period, e.g. HCSNSP."),
        Column("indicator_name", "string", doc="Atlas indicator name (description row), e.g. 'Perceived ...'."),
        Column("program", "string", nullable=False, doc="Healthy Chicago Survey for HCS* codes, else the citation."),
        Column("is_survey", "bool", nullable=False, doc="True for Healthy Chicago Survey indicators."),
        Column("measure", "string", nullable=False, allowed=MEASURES, doc="percent of adults, count, rate ..."),
        Column("period_label", "string", nullable=False, doc="As published: 2021-2022, 2018-2022, 2020."),
        Column("period_start_year", "int", nullable=False),
        Column("period_end_year", "int", nullable=False),
        Column("neighborhood_id", "string", nullable=False, doc="Community area number (Atlas GEOID)."),
        Column("source_area_name", "string", doc="The file's area name (title case, O'Hare)."),
        Column("estimate", "float", doc="Published value; null when suppressed (blank cell)."),
        Column("ci_lower", "float", doc="Lower 95% limit, where published."),
        Column("ci_upper", "float", doc="Upper 95% limit, where published."),
        Column("sample_size", "int", doc="Unweighted respondents, where published."),
        Column("is_suppressed", "bool", nullable=False, doc="The file leaves the estimate blank."),
        Column("source_file", "string", nullable=False, doc="File name the row came from."),
    ),
    extra={"raw_columns": ("raw_estimate", "raw_geoid")},
)

SENTIMENT_SCORES = EntitySchema(
    name="police_sentiment",
    table="fct_police_sentiment",
    grain="one row per sentiment unit x period (sentiment_id); exact duplicate source rows are quarantined",
    key=("sentiment_id",),
    columns=(
        Column("sentiment_id", "string", nullable=False, doc="<unit_level>|<unit_id>|<period_start>|<period_end>."),
        Column("unit_level", "string", nullable=False, allowed=UNIT_LEVELS),
        Column("unit_id", "string", nullable=False,
               doc="Sector code (1610 = district 16 sector 1), district number, area_1..5, NORTH/..., chicago."),
        Column("district", "string", doc="Police district number, for sector and district rows."),
        Column("sector", "string", doc="Sector code as published (district + sector digit + 0)."),
        Column("cpd_area", "string", doc="CPD area or bureau as published (not a community area)."),
        Column("period_start", "date", nullable=False),
        Column("period_end", "date", nullable=False),
        Column("period_kind", "string", nullable=False, allowed=PERIOD_KINDS),
        Column("safety", "float", nullable=False, doc="How safe residents feel, 0-100."),
        Column("trust", "float", nullable=False, doc="Mean of t_listen and t_respect, 0-100."),
        Column("t_listen", "float", doc="Police listen to residents' concerns (empty in earlier months)."),
        Column("t_respect", "float", doc="Police treat residents with respect (empty in earlier months)."),
    ),
    extra={"raw_columns": ("raw_safety", "raw_trust", "raw_start_date", "raw_end_date")},
)

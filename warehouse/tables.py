"""Every warehouse table, defined in one place (SQLAlchemy 2 Core), most built from the schema contracts.

No reflection anywhere (duckdb_engine cannot reflect on SQLAlchemy 2.1): tables are code.

Entity tables (the facts and dims the batch path merges into) carry their natural key as a PRIMARY
KEY on PostgreSQL only. On DuckDB a primary key is an ART index the engine keeps in memory and
grows with the table (10M incidents overflowed the default memory cap during a merge), so there
the key is kept unique by the merge itself (``warehouse.load._merge_rows``: anti-join on the staged
batch, inside one transaction) and checked by dbt's ``unique`` test on every build.
"""
from __future__ import annotations

from sqlalchemy import (Boolean, Column, Date, DateTime, Double, BigInteger, Integer, MetaData, String, Table, Text)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import PrimaryKeyConstraint

from schemas.base import EntitySchema
from schemas.arrests import ARRESTS
from schemas.community_voice import SENTIMENT_SCORES, SURVEY_INDICATORS
from schemas.discharges import TEDS_STATE_DISCHARGES, TREATMENT_DISCHARGES
from schemas.incidents import INCIDENT_OFFENSES, INCIDENTS
from schemas.medical_examiner import ME_CASE_VERSIONS, ME_CASES
from schemas.outcome_results import OUTCOME_RESULT_TABLES
from schemas.outcomes import OUTCOME_TABLES
from schemas.programs import PROGRAMS, ROSTER, SESSIONS
from schemas.treatment import ADMISSIONS, FACILITIES, TEDS_STATE_ADMISSIONS
from schemas.trend_results import ALERT_EPISODE_TABLE_COLUMNS, PROGRAM_IMPACT_COLUMNS, TREND_SIGNAL_COLUMNS

metadata = MetaData()

SQL_TYPES = {"string": Text, "int": BigInteger, "float": Double, "bool": Boolean, "date": Date,
             "timestamp": DateTime}
LINEAGE_COLUMNS = ("source", "batch_id", "loaded_at")


def entity_table(schema: EntitySchema) -> Table:
    """Return the fact/dimension table for a canonical entity plus lineage columns."""
    cols = [Column(c.name, SQL_TYPES[c.type](), primary_key=c.name in schema.key, nullable=c.nullable or False,
                   comment=c.doc or None) for c in schema.columns]
    lineage = [Column("source", Text, nullable=False), Column("batch_id", Text, nullable=False),
               Column("loaded_at", DateTime, nullable=False)]
    cols += [c for c in lineage if c.name not in schema.column_names]
    return Table(schema.table, metadata, *cols, comment=schema.grain, info={"merged_key": True})


@compiles(PrimaryKeyConstraint, "duckdb")
def _duckdb_primary_key(constraint, compiler, **kw):
    """Leave the primary key of merged entity tables out of DuckDB's CREATE TABLE (see the module docstring)."""
    if constraint.table is not None and constraint.table.info.get("merged_key"):
        return None
    return compiler.visit_primary_key_constraint(constraint, **kw)


def quarantine_table(entity: str) -> Table:
    """Return ``quarantine_<entity>``: one row per (batch row, failed expectation)."""
    return Table(
        f"quarantine_{entity}", metadata,
        Column("batch_id", Text, primary_key=True),
        Column("row_index", BigInteger, primary_key=True, comment="0-based row within the batch"),
        Column("expectation", Text, primary_key=True),
        Column("column_name", Text, primary_key=True),
        Column("source", Text, nullable=False),
        Column("source_row", BigInteger, comment="1-based data row in the source file/page"),
        Column("record_id", Text),
        Column("value", Text),
        Column("reason", Text, nullable=False),
        Column("raw_record", Text, comment="the raw row as JSON"),
        Column("quarantined_at", DateTime, nullable=False),
        comment="rows that failed a row-level expectation, with the reason and offending value",
    )


ENTITIES = (INCIDENTS, INCIDENT_OFFENSES, ADMISSIONS, TEDS_STATE_ADMISSIONS, FACILITIES, PROGRAMS, SESSIONS, ROSTER)
for _schema in ENTITIES:
    entity_table(_schema)
    quarantine_table(_schema.name)

# Health outcomes and community voice (issue 12).
HEALTH_ENTITIES = (ME_CASES, ME_CASE_VERSIONS, SURVEY_INDICATORS, SENTIMENT_SCORES)
for _schema in HEALTH_ENTITIES:
    entity_table(_schema)
    if _schema is not ME_CASE_VERSIONS:  # versions are written beside the cases, never quarantined alone
        quarantine_table(_schema.name)

fct_incidents = metadata.tables[INCIDENTS.table]
quarantine_incidents = metadata.tables["quarantine_incidents"]

# Outcome feeds (issue 11): person-level arrests and provider discharges, TEDS-D state rows.
OUTCOME_FEEDS = (ARRESTS, TREATMENT_DISCHARGES, TEDS_STATE_DISCHARGES)
for _schema in OUTCOME_FEEDS:
    entity_table(_schema)
    quarantine_table(_schema.name)

# Tables analysts must not read: person-level facts, quarantined raw rows, the geocode cache.
PERSON_LEVEL_TABLES = tuple(s.table for s in (*ENTITIES, *HEALTH_ENTITIES, *OUTCOME_FEEDS) if s.person_level)

load_audit = Table(
    "load_audit", metadata,
    Column("audit_id", String(36), primary_key=True),
    Column("batch_id", Text, nullable=False),
    Column("flow_run_id", Text),
    Column("source", Text, nullable=False),
    Column("entity", Text, nullable=False),
    Column("source_path", Text),
    Column("sha256", Text),
    Column("watermark", Text),
    Column("status", Text, nullable=False, comment="loaded | failed | skipped"),
    Column("rows_read", BigInteger, nullable=False),
    Column("rows_loaded", BigInteger, nullable=False),
    Column("rows_quarantined", BigInteger, nullable=False),
    Column("rows_inserted", BigInteger),
    Column("rows_updated", BigInteger),
    Column("rows_unchanged", BigInteger),
    Column("validation_success", Boolean),
    Column("message", Text),
    Column("started_at", DateTime, nullable=False),
    Column("finished_at", DateTime, nullable=False),
    comment="one row per batch load attempt; rows_read = rows_loaded + rows_quarantined",
)

source_watermarks = Table(
    "source_watermarks", metadata,
    Column("source", Text, primary_key=True),
    Column("watermark", Text, nullable=False),
    Column("batch_id", Text),
    Column("updated_at", DateTime, nullable=False),
    comment="high-water mark of the last fully loaded extraction per source",
)

dim_neighborhoods = Table(
    "dim_neighborhoods", metadata,
    Column("neighborhood_id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("population_2010", Integer),
    Column("area_km2", Double),
    Column("centroid_lat", Double),
    Column("centroid_lon", Double),
    Column("geometry_wkt", Text, comment="polygon in EPSG:4326 as WKT"),
    comment="one row per neighborhood (Chicago: community area, id = area number)",
)


# -- trend results (derived: each trends run replaces them) ---------------------------------

# Extra columns beside the detectors' contracts: the series grain and when the run computed them.
SIGNAL_TABLE_COLUMNS = [*TREND_SIGNAL_COLUMNS, "grain", "computed_at"]
IMPACT_TABLE_COLUMNS = [*PROGRAM_IMPACT_COLUMNS, "metric", "computed_at"]

trend_signals = Table(
    "trend_signals", metadata,
    Column("neighborhood_id", Text, comment="null = citywide"),
    Column("metric", Text, nullable=False, comment="e.g. drug_incidents, admissions"),
    Column("period_start", Date, nullable=False),
    Column("period_end", Date, nullable=False, comment="last day of the period, inclusive"),
    Column("method", Text, nullable=False,
           comment="an output of a registered method (tasks/trends/methods; docs/methods.md), e.g. glm_spike"),
    Column("statistic", Double),
    Column("p_value", Double),
    Column("score", Double, comment="MK: Sen's slope per year; EARS: C - threshold; hot spot: final Gi* z"),
    Column("level", Text, nullable=False, comment="trend direction, alarm, or hot spot category"),
    Column("details", Text, comment="JSON object with the method's supporting numbers"),
    Column("grain", Text, nullable=False, comment="day | week | month: the series the method ran on"),
    Column("computed_at", DateTime, nullable=False),
    comment="one row per (series, metric, grain, method output, period); detector rows are alarms only",
)

program_impact = Table(
    "program_impact", metadata,
    Column("program_id", Text, nullable=False),
    Column("neighborhood_id", Text),
    Column("started_on", Date),
    Column("method", Text, nullable=False, comment="a registered impact method | headline | not_estimated"),
    Column("estimate", Double, comment="rate ratio (observed / expected after the start)"),
    Column("ci_low", Double),
    Column("ci_high", Double),
    Column("p_value", Double),
    Column("n_pre", BigInteger, comment="months before the program start"),
    Column("n_post", BigInteger, comment="months from the program start"),
    Column("details", Text, comment="JSON: every fitted number, or 'skipped' with the reason"),
    Column("metric", Text, nullable=False),
    Column("computed_at", DateTime, nullable=False),
    comment="one row per program and method; programs that cannot be estimated keep a row saying why",
)

EPISODE_TABLE_COLUMNS = ALERT_EPISODE_TABLE_COLUMNS
alert_episodes = Table(
    "alert_episodes", metadata,
    Column("episode_id", Text, nullable=False, comment="method|metric|grain|area or citywide|start_period"),
    Column("neighborhood_id", Text, comment="area, pooled region R:<id>+<id>, scan cluster centre; null = citywide"),
    Column("area_ids", Text, comment="member neighborhood ids, comma-separated ('' = citywide)"),
    Column("metric", Text, nullable=False),
    Column("grain", Text, nullable=False, comment="day | week | month"),
    Column("method", Text, nullable=False, comment="registered method (tasks/trends/methods), e.g. glm_baseline"),
    Column("kind", Text, nullable=False, comment="spike | cluster"),
    Column("is_headline", Boolean, nullable=False, comment="part of the pipeline's decision (else a reference)"),
    Column("detectors", Text, comment="trend_signals.method values that fired, comma-separated"),
    Column("start_period", Date, nullable=False),
    Column("end_period", Date, nullable=False, comment="last day of the last alarm period, inclusive"),
    Column("peak_period", Date, comment="alarm period with the largest observed - expected"),
    Column("n_periods", BigInteger, nullable=False, comment="alarm periods in the episode"),
    Column("observed", Double, comment="events summed over the alarm periods"),
    Column("expected", Double, comment="baseline expectation summed over the alarm periods"),
    Column("peak_observed", Double),
    Column("peak_expected", Double),
    Column("max_score", Double, comment="largest statistic - threshold"),
    Column("min_p_value", Double),
    Column("is_ongoing", Boolean, nullable=False, comment="reaches the series' last period"),
    Column("computed_at", DateTime, nullable=False),
    comment="one row per alert episode: consecutive alarm periods of one series, metric, grain and method",
)


# -- geocode cache (restricted: normalized addresses) ----------------------------------------

geocode_cache = Table(
    "geocode_cache", metadata,
    Column("cache_key", Text, primary_key=True, comment="normalized address (tasks.geocode.address_parser)"),
    Column("latitude", Double),
    Column("longitude", Double),
    Column("geocode_method", Text),
    Column("geocode_precision", Text),
    Column("match_score", Double),
    Column("geocode_note", Text),
    Column("geocoder_version", Text),
    Column("cached_at", DateTime),
    comment="one row per normalized address geocoded by the offline geocoder",
)


# -- code tables the models read (rebuilt from the data directory by warehouse.code_table_loader)

ref_iucr_codes = Table(
    "ref_iucr_codes", metadata,
    Column("iucr", Text, primary_key=True, comment="IUCR as incident files publish it, zero-padded to 4 (0486)"),
    Column("iucr_normalized", Text, nullable=False, unique=True, comment="upper-cased, leading zeros stripped (486)"),
    Column("primary_description", Text, nullable=False),
    Column("secondary_description", Text, nullable=False),
    Column("index_code", Text, comment="I = index crime, N = non-index (null for supplementary codes)"),
    Column("offense_category", Text, nullable=False, comment="schemas.iucr_codes category; non_drug for the rest"),
    Column("is_drug_offense", Boolean, nullable=False),
    Column("nibrs_code", Text, comment="35A drug/narcotic, 35B drug equipment; null for non-drug"),
    Column("is_supplementary", Boolean, nullable=False,
           comment="code missing from the published lookup, added from schemas.iucr_codes.SUPPLEMENTARY_IUCR"),
    comment="one row per Chicago IUCR offense code",
)

ref_teds_codes = Table(
    "ref_teds_codes", metadata,
    Column("variable", Text, primary_key=True, comment="TEDS-A codebook variable (SUB1, PSOURCE, AGE, ...)"),
    Column("code", BigInteger, primary_key=True),
    Column("label", Text, nullable=False),
    Column("is_missing", Boolean, nullable=False, comment="the -9 'missing/unknown' code"),
    Column("frequency_2017", BigInteger, comment="national 2017 TEDS-A admissions with this code"),
    comment="one row per TEDS-A codebook variable and code (2017 value labels)",
)


# -- health feeds' reference tables (written by flows/health.py) ----------------------------

ref_death_exports = Table(
    "ref_death_exports", metadata,
    Column("export_label", Text, primary_key=True, comment="config label of a medical-examiner export"),
    Column("source", Text, nullable=False, comment="the [sources.<slug>] it was loaded from"),
    Column("layout", Text, nullable=False, comment="hub | portal"),
    Column("provisional_months", Integer, nullable=False,
           comment="the export's last N months of data are provisional (reported late)"),
    Column("last_death_date", Date, comment="latest local date of death the export holds"),
    Column("estimated_provisional_months", Integer,
           comment="window estimated from this export's revisions of the previous one (opioid-flag completeness)"),
    Column("loaded_at", DateTime, nullable=False),
    comment="one row per medical-examiner export: its data-lag (provisional) window",
)

dim_police_unit_crosswalk = Table(
    "dim_police_unit_crosswalk", metadata,
    Column("unit_level", Text, primary_key=True, comment="district | sector"),
    Column("unit_id", Text, primary_key=True, comment="district number or sector code (1610)"),
    Column("neighborhood_id", Text, primary_key=True),
    Column("overlap_km2", Double),
    Column("target_share", Double, comment="share of the community area's land in the unit"),
    Column("source_share", Double, comment="share of the unit's land in the community area"),
    Column("weight", Double, nullable=False, comment="population weight; sums to 1 per area and level"),
    comment="police district/sector -> community area weights (tasks/geocode/crosswalk.py)",
)


# -- outcome results (derived: each outcomes step replaces them; issue 11) --------------------

def result_table(schema: EntitySchema) -> Table:
    """Return a derived results table: the schema's columns plus ``computed_at`` (no lineage)."""
    cols = [Column(c.name, SQL_TYPES[c.type](), nullable=c.nullable, comment=c.doc or None) for c in schema.columns]
    return Table(schema.table, metadata, *cols, Column("computed_at", DateTime, nullable=False), comment=schema.grain)


for _schema in (*OUTCOME_TABLES, *OUTCOME_RESULT_TABLES):
    result_table(_schema)

# Linked person-level rows and unsuppressed estimates (OUTCOME_TABLES) and the suppressed results the
# dbt marts read (OUTCOME_RESULT_TABLES): none is readable by analysts; they read the mart_ models.
RESTRICTED_RESULT_TABLES = tuple(s.table for s in (*OUTCOME_TABLES, *OUTCOME_RESULT_TABLES))
PERSON_LEVEL_TABLES = (*PERSON_LEVEL_TABLES, *RESTRICTED_RESULT_TABLES)

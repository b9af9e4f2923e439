"""SQLAlchemy 2 table definitions for the warehouse, built from the schema contracts.

No reflection anywhere (duckdb_engine cannot reflect on SQLAlchemy 2.1): tables are code.
"""
from __future__ import annotations

from sqlalchemy import (Boolean, Column, Date, DateTime, Double, BigInteger, Integer, MetaData, String, Table, Text)

from schemas.base import EntitySchema
from schemas.incidents import INCIDENTS
from schemas.programs import PROGRAMS, ROSTER, SESSIONS
from schemas.treatment import ADMISSIONS, FACILITIES, TEDS_STATE_ADMISSIONS

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
    return Table(schema.table, metadata, *cols, comment=schema.grain)


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


ENTITIES = (INCIDENTS, ADMISSIONS, TEDS_STATE_ADMISSIONS, FACILITIES, PROGRAMS, SESSIONS, ROSTER)
for _schema in ENTITIES:
    entity_table(_schema)
    quarantine_table(_schema.name)

fct_incidents = metadata.tables[INCIDENTS.table]
quarantine_incidents = metadata.tables["quarantine_incidents"]

# Tables analysts must not read: person-level facts, quarantined raw rows, the geocode cache.
PERSON_LEVEL_TABLES = tuple(s.table for s in ENTITIES if s.person_level)

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

"""SQLAlchemy 2 table definitions for the warehouse, built from the schema contracts.

No reflection anywhere (duckdb_engine cannot reflect on SQLAlchemy 2.1): tables are code.
"""
from __future__ import annotations

from sqlalchemy import (Boolean, Column, Date, DateTime, Float, BigInteger, Integer, MetaData, String, Table, Text)

from schemas.base import EntitySchema
from schemas.incidents import INCIDENTS

metadata = MetaData()

SQL_TYPES = {"string": Text, "int": BigInteger, "float": Float, "bool": Boolean, "date": Date,
             "timestamp": DateTime}
LINEAGE_COLUMNS = ("source", "batch_id", "loaded_at")


def entity_table(schema: EntitySchema) -> Table:
    """Return the fact/dimension table for a canonical entity plus lineage columns."""
    cols = [Column(c.name, SQL_TYPES[c.type](), primary_key=c.name in schema.key, nullable=c.nullable or False,
                   comment=c.doc or None) for c in schema.columns]
    cols += [Column("source", Text, nullable=False), Column("batch_id", Text, nullable=False),
             Column("loaded_at", DateTime, nullable=False)]
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


fct_incidents = entity_table(INCIDENTS)
quarantine_incidents = quarantine_table("incidents")

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
    Column("area_km2", Float),
    Column("centroid_lat", Float),
    Column("centroid_lon", Float),
    Column("geometry_wkt", Text, comment="polygon in EPSG:4326 as WKT"),
    comment="one row per neighborhood (Chicago: community area, id = area number)",
)

"""Canonical police incident: one row per incident (``incident_id``), all offense types, and
its child table of offense rows (``fct_incident_offenses``, one row per source offense row).

Drug offenses are flagged (``is_drug_offense``) and categorised so shares and denominators
are possible. Timestamps are local wall-clock time in the city's time zone (for Chicago,
America/Chicago), as the source publishes them.

Feeds with one row per incident x offense (Boston, St. Louis) keep every source row in
``INCIDENT_OFFENSES``; the incident row names the offense chosen by the documented rule
(tasks/sources/incident_grain.py: active offenses only, drug first, then category, then the
lowest code number) and ``n_offenses`` counts its active offenses after netting adjustment rows
(``offense_count`` -1 reverses a +1 of the same incident and code). An incident whose every
offense was reversed stays as a row with ``is_reversed`` true and counts as no offense.
"""
from __future__ import annotations

from schemas.base import Column, EntitySchema

OFFENSE_CATEGORIES = (
    "possession",
    "sale_delivery",
    "manufacture",
    "paraphernalia",
    "other_drug",
    "non_drug",
)
GEOCODE_METHODS = ("latlon", "projected_xy", "source_area", "none")
GEOCODE_PRECISIONS = ("point", "snapped", "area_label", "none")

GEOCODE_COLUMNS = (
    Column("neighborhood_id", "string", doc="Boundary file's own id (Chicago: community area number)."),
    Column("geocode_method", "string", nullable=False, allowed=GEOCODE_METHODS),
    Column("geocode_precision", "string", nullable=False, allowed=GEOCODE_PRECISIONS),
    Column("snap_distance_m", "float", doc="Distance to the polygon a point was snapped to."),
)

INCIDENTS = EntitySchema(
    name="incidents",
    table="fct_incidents",
    grain="one row per incident (incident_id); a newer updated_at replaces the stored row",
    key=("incident_id",),
    version_column="updated_at",
    columns=(
        Column("incident_id", "string", nullable=False, doc="Source's unique record id."),
        Column("case_number", "string", doc="Police case (RD) number."),
        Column("occurred_at", "timestamp", nullable=False, doc="Local wall-clock time of the incident."),
        Column("iucr", "string", doc="Illinois Uniform Crime Reporting code as published (e.g. 0486)."),
        Column("primary_type", "string"),
        Column("description", "string"),
        Column("fbi_code", "string"),
        Column("offense_category", "string", nullable=False, allowed=OFFENSE_CATEGORIES),
        Column("is_drug_offense", "bool", nullable=False),
        Column("nibrs_code", "string", doc="35A drug/narcotic, 35B drug equipment; null for non-drug."),
        Column("is_arrest", "bool"),
        Column("is_domestic", "bool"),
        Column("location_description", "string"),
        Column("block", "string", doc="Masked block address, e.g. 032XX W FILLMORE ST."),
        Column("beat", "string"),
        Column("district", "string"),
        Column("ward", "string"),
        Column("latitude", "float"),
        Column("longitude", "float"),
        Column("x_coordinate", "float", doc="Projected x in the source CRS (Chicago: EPSG:3435 ft)."),
        Column("y_coordinate", "float"),
        Column("source_area_id", "string", doc="The source's own area label (Chicago: Community Area)."),
        Column("updated_at", "timestamp", doc="When the source last changed the record."),
        *GEOCODE_COLUMNS,
        # Added for multi-offense feeds (issue 10); one-row-per-incident feeds fill 1 / False.
        Column("reported_at", "timestamp", doc="When the offense was reported or coded (St. Louis: file month)."),
        Column("is_shooting", "bool", doc="The source flags a shooting (Boston SHOOTING)."),
        Column("n_offenses", "int", doc="Active offense rows after netting adjustments (0 = all reversed)."),
        Column("is_reversed", "bool", doc="Every offense was reversed by adjustment rows: count it as no incident."),
    ),
)

# Extra column of the adapter's offense-grain output (one row per source row) before collapse.
OFFENSE_COUNT = "offense_count"

INCIDENT_OFFENSES = EntitySchema(
    name="incident_offenses",
    table="fct_incident_offenses",
    grain="one row per source offense row (offense_id); re-landing the same rows replaces them",
    key=("offense_id",),
    columns=(
        Column("offense_id", "string", nullable=False,
               doc="incident_id/reported date (YYYY-MM-DD, when the feed has one)/offense_seq."),
        Column("incident_id", "string", nullable=False, doc="The incident (fct_incidents.incident_id)."),
        Column("offense_seq", "int", nullable=False,
               doc="1-based order within the incident and reported date (by code, count, description, row)."),
        Column("reported_at", "timestamp", doc="When this row was reported or coded."),
        Column("offense_count", "int", nullable=False, doc="+1 an offense; -1 reverses or adjusts an earlier +1."),
        Column("offense_code", "string", doc="The source's offense code as published (stripped)."),
        Column("offense_group", "string", doc="The source's own group or primary type."),
        Column("description", "string"),
        Column("offense_category", "string", nullable=False, allowed=OFFENSE_CATEGORIES),
        Column("is_drug_offense", "bool", nullable=False),
        Column("nibrs_code", "string"),
        Column("offense_rank", "int", nullable=False,
               doc="Pick order of the documented rule (lower = chosen first for the incident row)."),
    ),
)

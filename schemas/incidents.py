"""Canonical police incident: one row per incident (``incident_id``), all offense types.

Drug offenses are flagged (``is_drug_offense``) and categorised so shares and denominators
are possible. Timestamps are local wall-clock time in the city's time zone (for Chicago,
America/Chicago), as the source publishes them.
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
    ),
)

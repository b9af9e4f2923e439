"""Canonical medical-examiner case: one row per case (``case_number``), all manners of death.

Person-level: age, sex, race, ethnicity and the causes of death describe one person, so the
table is restricted (``person_level=True``); analysts see only aggregated, small-cell-suppressed
counts. The incident street address is not a column: it travels beside the frame as
``address`` until the geocoder has used it and is dropped at ``coerce``.

Timestamps are local wall-clock time in the city's zone (America/Chicago), whatever zone the
export used (the ArcGIS Hub export is UTC, the Socrata portal export local). ``edited_at`` is the
version: the archive's own edit time (Hub ``last_edited_date``) or, for an export without one,
the export's as-of time from config; a newer ``edited_at`` replaces the stored case on merge.
"""
from __future__ import annotations

from schemas.base import Column, EntitySchema

MANNERS = ("ACCIDENT", "SUICIDE", "HOMICIDE", "NATURAL", "UNDETERMINED", "PENDING")
SEXES = ("Male", "Female", "Unknown")
RACES = ("White", "Black", "Asian", "Am. Indian", "Other", "Unknown")
AGE_GROUPS = ("0-19", "20-29", "30-39", "40-49", "50-59", "60-69", "70-79", "80+", "Unknown")

# Order of the geocoding cascade (tasks/geocode/case_locations.py), best first.
CASE_GEOCODE_METHODS = (
    "latlon", "projected_xy", "source_area_name", "intersection", "address_grid", "grid_crossing",
    "zip_area_share", "none",
)
CASE_GEOCODE_PRECISIONS = ("point", "snapped", "area_label", "intersection", "street", "block", "zip", "none")

FLAG_COLUMNS = (
    "is_opioid_related", "is_gun_related", "is_cold_related", "is_heat_related", "is_covid_related",
)

ME_CASES = EntitySchema(
    name="medical_examiner_cases",
    table="fct_medical_examiner_cases",
    grain="one row per medical-examiner case (case_number); a newer edited_at replaces the stored case",
    key=("case_number",),
    person_level=True,
    version_column="edited_at",
    columns=(
        Column("case_number", "string", nullable=False, doc="Examiner's case number, e.g. ME2018-02609."),
        Column("export_label", "string", nullable=False,
               doc="Which export the stored values come from (config label, e.g. hub_opioid_2023-08)."),
        Column("death_at", "timestamp", nullable=False, doc="Date and time of death, local city time."),
        Column("death_date", "date", nullable=False, doc="Local calendar date of death."),
        Column("incident_at", "timestamp", doc="Date and time of the incident (injury), local city time."),
        Column("age", "int", doc="Age in years at death."),
        Column("age_group", "string", allowed=AGE_GROUPS, doc="Examiner's age band (derived from age when absent)."),
        Column("sex", "string", allowed=SEXES),
        Column("race", "string", allowed=RACES),
        Column("is_latino", "bool"),
        Column("manner", "string", allowed=MANNERS, doc="Manner of death; PENDING while the investigation is open."),
        Column("primary_cause", "string"),
        Column("primary_cause_line_a", "string"),
        Column("primary_cause_line_b", "string"),
        Column("primary_cause_line_c", "string"),
        Column("secondary_cause", "string"),
        Column("is_opioid_related", "bool", nullable=False,
               doc="Opioids caused or contributed; filled in as toxicology closes, so false can still turn true."),
        Column("is_gun_related", "bool"),
        Column("is_cold_related", "bool"),
        Column("is_heat_related", "bool"),
        Column("is_covid_related", "bool", doc="Null in exports before the field existed."),
        Column("incident_city", "string", doc="City of the incident, upper case."),
        Column("incident_zip", "string", doc="5-digit ZIP of the incident."),
        Column("residence_city", "string"),
        Column("residence_zip", "string"),
        Column("latitude", "float"),
        Column("longitude", "float"),
        Column("x_coordinate", "float", doc="Illinois State Plane East (EPSG:3435) feet, Hub export only."),
        Column("y_coordinate", "float"),
        Column("source_area_name", "string", doc="The export's own community-area name (Hub chi_commarea)."),
        Column("source_area_id", "string", doc="That name matched to the boundary file's id."),
        Column("source_ward", "string"),
        Column("edited_at", "timestamp", nullable=False, doc="Version: last edit (or export as-of) time, local."),
        Column("neighborhood_id", "string", doc="Boundary file's id; null outside the city or unlocated."),
        Column("geocode_method", "string", nullable=False, allowed=CASE_GEOCODE_METHODS),
        Column("geocode_precision", "string", nullable=False, allowed=CASE_GEOCODE_PRECISIONS),
        Column("snap_distance_m", "float"),
    ),
    extra={
        # Source text kept beside the canonical columns so quarantine shows what the export said.
        "raw_columns": ("raw_death_at", "raw_incident_at", "raw_age", "raw_latitude", "raw_longitude",
                        "raw_edited_at"),
        # Columns analysts may see only aggregated and suppressed.
        "person_columns": ("age", "age_group", "sex", "race", "is_latino", "primary_cause",
                           "primary_cause_line_a", "primary_cause_line_b", "primary_cause_line_c",
                           "secondary_cause", "residence_city", "residence_zip"),
    },
)

# One row per case and export: what each export said about the case (the opioid flag's revision
# history). Written beside fct_medical_examiner_cases in the same merge transaction.
ME_CASE_VERSIONS = EntitySchema(
    name="medical_examiner_case_versions",
    table="fct_medical_examiner_case_versions",
    grain="one row per case_number x export_label: the case as that export wrote it",
    key=("case_number", "export_label"),
    person_level=True,
    columns=(
        Column("case_number", "string", nullable=False),
        Column("export_label", "string", nullable=False, doc="Config label of the export."),
        Column("edited_at", "timestamp", nullable=False, doc="The export's version time for the case."),
        Column("death_date", "date", nullable=False, doc="Local date of death as that export wrote it."),
        Column("manner", "string", allowed=MANNERS),
        Column("is_opioid_related", "bool", nullable=False, doc="The opioid flag in that export."),
        Column("neighborhood_id", "string", doc="Where that export's fields placed the case."),
    ),
)

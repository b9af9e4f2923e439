"""Canonical treatment entities: provider admissions, TEDS-A state admissions, facilities.

- ``ADMISSIONS``: one row per admission (``admission_id``) from a provider export. Person-level:
  the client is only a keyed HMAC (``client_key``); the street address is never a column here.
  It travels beside the frame as a separate series until the geocoder has used it, then is
  dropped, so only ``neighborhood_id`` / ``residence_zip`` reach the warehouse.
- ``TEDS_STATE_ADMISSIONS``: one row per TEDS-A public-use record (``caseid``). State level only;
  the public file has no sub-state geography below CBSA, so it never gets neighborhoods.
- ``FACILITIES``: one row per treatment facility listing (``facility_id``).

Coded fields keep the TEDS-A integer codes (``schemas/teds_codes.py``); -9 means missing.
"""
from __future__ import annotations

from datetime import datetime

import pandas as pd

from schemas.base import Column, EntitySchema
from schemas.teds_codes import CODEBOOK_VALUES, code_parameters

# Canonical column -> codebook variable (primary/secondary substance, route and frequency of
# the primary substance).
CODE_COLUMNS: dict[str, str] = {
    "age_group": "AGE",
    "sex": "GENDER",
    "primary_substance": "SUB1",
    "secondary_substance": "SUB2",
    "route": "ROUTE1",
    "frequency": "FREQ1",
    "referral_source": "PSOURCE",
    "prior_episodes": "NOPRIOR",
    "service_setting": "SERVICES",
}

_CODE_DOCS = {
    "age_group": "TEDS AGE group code (1 = 12-14 ... 12 = 65+).",
    "sex": "TEDS GENDER code (1 male, 2 female, -9 missing).",
    "primary_substance": "TEDS SUB1 code (5 heroin, 6 non-Rx methadone, 7 other opiates/synthetics).",
    "secondary_substance": "TEDS SUB2 code (1 = none).",
    "route": "TEDS ROUTE1 code: usual route of the primary substance.",
    "frequency": "TEDS FREQ1 code: frequency of use of the primary substance.",
    "referral_source": "TEDS PSOURCE code (7 = court/criminal justice).",
    "prior_episodes": "TEDS NOPRIOR code (0..4, 5 = five or more).",
    "service_setting": "TEDS SERVICES code (1..8).",
}


def _code_columns() -> tuple[Column, ...]:
    return tuple(
        Column(name, "int", doc=_CODE_DOCS[name], allowed=CODEBOOK_VALUES[var])
        for name, var in CODE_COLUMNS.items()
    )


ADMISSIONS = EntitySchema(
    name="treatment_admissions",
    table="fct_treatment_admissions",
    grain="one row per admission (admission_id) of a provider export",
    key=("admission_id",),
    person_level=True,
    columns=(
        Column("admission_id", "string", nullable=False, doc="Provider's admission (episode) id."),
        Column("provider_id", "string", doc="Provider's id of the treatment program."),
        Column("admitted_on", "date", doc="Admission date; null when the export's date did not parse."),
        Column("client_key", "string", doc="HMAC-SHA256 hex of the provider's client id (keyed)."),
        *_code_columns(),
        Column("residence_zip", "string", doc="Client's residence ZIP, 5 digits as exported."),
        Column("is_synthetic", "bool", nullable=False, doc="True for generated demo rows."),
        Column("neighborhood_id", "string", doc="Boundary file's id; filled by the geocoder."),
        Column("geocode_method", "string", doc="How the residence was located; filled by the geocoder."),
        Column("geocode_precision", "string", doc="Precision of that location; filled by the geocoder."),
        Column("match_score", "float", doc="Geocoder's match score (0..1) or areal weight."),
    ),
    extra={
        # Source text kept beside the canonical columns (same frame, after them) so quarantine
        # can show what the export said; the loader keeps only ``column_names``.
        "raw_columns": ("raw_admitted_on", *(f"raw_{c}" for c in CODE_COLUMNS)),
    },
)

TEDS_STATE_ADMISSIONS = EntitySchema(
    name="teds_state_admissions",
    table="fct_teds_state_admissions",
    grain="one row per TEDS-A public-use record (caseid); state level, no neighborhoods",
    key=("caseid",),
    columns=(
        Column("caseid", "string", nullable=False, doc="TEDS-A CASEID (11 digits)."),
        Column("admission_year", "int", doc="ADMYR; null when the file lacks it."),
        Column("state_fips", "int", doc="STFIPS.", allowed=CODEBOOK_VALUES["STFIPS"]),
        Column("cbsa", "int", doc="CBSA2010 code; -9 = undesignated or missing."),
        *_code_columns(),
    ),
)

FACILITY_SOURCES = ("samhsa_locator", "samhsa_otp", "methadone_clinics")

FACILITIES = EntitySchema(
    name="treatment_facilities",
    table="dim_treatment_facilities",
    grain="one row per facility listing (facility_id) of one source",
    key=("facility_id",),
    columns=(
        Column("facility_id", "string", nullable=False, doc="sha256 of source|name|street|zip, 16 hex."),
        Column("name", "string", doc="Facility name as listed (null when the source masks it)."),
        Column("source", "string", nullable=False, allowed=FACILITY_SOURCES),
        Column("street", "string"),
        Column("city", "string"),
        Column("state", "string"),
        Column("zip", "string", doc="5-digit ZIP."),
        Column("latitude", "float", nullable=False),
        Column("longitude", "float", nullable=False),
        Column("is_otp", "bool", nullable=False,
               doc="An OTP (methadone) listing, or a locator listing at the house number + ZIP of one."),
        Column("neighborhood_id", "string", doc="Filled by the spatial join."),
        Column("geocode_precision", "string", doc="Filled by the spatial join."),
    ),
)

# Accepted admission dates: from this date to the run date.
EARLIEST_ADMISSION = datetime(2000, 1, 1)


def admission_suite_parameters(now: datetime) -> dict:
    """Return the expectation parameters of ``expectations/treatment_admissions.json``.

    NOTE: GX 1.24 parses a date *string* bound into ``datetime.date`` and then cannot compare
    it with a pandas Timestamp column (MetricResolutionError), so both bounds are passed as
    datetimes here rather than written as strings in the suite.
    """
    return {
        "earliest_admitted_on": pd.Timestamp(EARLIEST_ADMISSION).to_pydatetime(),
        "now": _naive(now),
        **code_parameters(tuple(CODE_COLUMNS.values())),
    }


def _naive(when: datetime) -> datetime:
    # Admission dates are naive local dates; a tz-aware run time would not compare with them.
    ts = pd.Timestamp(when)
    return (ts.tz_localize(None) if ts.tzinfo is not None else ts).to_pydatetime()


def teds_suite_parameters() -> dict:
    """Return the expectation parameters of ``expectations/teds_admissions.json``."""
    return code_parameters((*CODE_COLUMNS.values(), "STFIPS"))

"""Canonical treatment discharges: TEDS-D state rows (real, public) and provider discharges
(person-level, same client pseudonyms as the provider admissions).

Codes are TEDS-D integers: REASON (reason for discharge), LOS (length of stay), ARRESTS /
ARRESTS_D (arrests in the 30 days before admission / before discharge), plus the TEDS-A codes the
discharge record repeats (AGE, SEX, SUB1, PSOURCE, SERVICES; ``schemas/teds_codes.py``).

- ``TEDS_STATE_DISCHARGES``: one row per TEDS-D public-use record (``caseid``); state level only.
- ``TREATMENT_DISCHARGES``: one row per discharge of a provider export, keyed by the admission
  (episode) it closes; ``client_key`` is the keyed HMAC of the provider's client id.
"""
from __future__ import annotations

from datetime import datetime

import pandas as pd

from schemas.base import Column, EntitySchema
from schemas.teds_codes import CODEBOOK_VALUES, CRIMINAL_JUSTICE_REFERRAL

# TEDS-D REASON: 1 completed, 2 dropped out, 3 terminated by facility, 4 transferred to another
# program or facility, 5 incarcerated, 6 death, 7 other (the TEDS-D codebook; the decoded 2023
# sample's labels follow the same order, see tasks/sources/treatment_discharges_teds.py).
REASON_CODES = (1, 2, 3, 4, 5, 6, 7)
REASON_OUTCOMES = {1: "completed", 2: "dropped_out", 3: "terminated", 4: "transferred", 5: "incarcerated",
                   6: "death", 7: "other"}
COMPLETED = 1
# TEDS-D LOS: 1..30 = days; 31 = 31-45, 32 = 46-60, 33 = 61-90, 34 = 91-120, 35 = 121-180,
# 36 = 181-365, 37 = more than 365 days.
LOS_CODES = (-9, *range(1, 38))
# ARRESTS / ARRESTS_D: 0 none, 1 once, 2 two or more times, -9 missing.
ARREST_COUNT_CODES = (-9, 0, 1, 2)
MISSING = -9
# NOTE: the 2017 TEDS-A codebook lists no Georgia (13) or Oregon (41) rows (2017 excludes them);
# TEDS-D 2023 has both (the decoded sample holds 29 GA and 2 OR rows).
STATE_FIPS = tuple(sorted({*CODEBOOK_VALUES["STFIPS"], 13, 41}))

_TEDS_COLUMNS = (
    Column("age_group", "int", allowed=CODEBOOK_VALUES["AGE"], doc="TEDS AGE group code (1 = 12-14 ... 12 = 65+)."),
    Column("sex", "int", allowed=CODEBOOK_VALUES["GENDER"], doc="TEDS SEX code (1 male, 2 female, -9 missing)."),
    Column("primary_substance", "int", allowed=CODEBOOK_VALUES["SUB1"], doc="SUB1 at admission."),
    Column("referral_source", "int", allowed=CODEBOOK_VALUES["PSOURCE"], doc="PSOURCE (7 = court/criminal justice)."),
    Column("is_criminal_justice_referral", "bool", doc="PSOURCE = 7; null when PSOURCE is missing."),
    Column("service_setting", "int", allowed=CODEBOOK_VALUES["SERVICES"], doc="SERVICES at admission (1..8)."),
)

TEDS_STATE_DISCHARGES = EntitySchema(
    name="teds_state_discharges",
    table="fct_teds_state_discharges",
    grain="one row per TEDS-D public-use record (caseid); state level, no neighborhoods",
    key=("caseid",),
    columns=(
        Column("caseid", "string", nullable=False, doc="TEDS-D CASEID."),
        Column("discharge_year", "int", doc="DISYR."),
        Column("state_fips", "int", allowed=STATE_FIPS, doc="STFIPS."),
        *_TEDS_COLUMNS,
        Column("discharge_reason", "int", allowed=REASON_CODES, doc="REASON (1 = treatment completed)."),
        Column("is_completed", "bool", doc="REASON = 1."),
        Column("length_of_stay", "int", allowed=LOS_CODES,
               doc="LOS code (1..30 days, 31..37 ranges); null where the extract cannot tell."),
        Column("arrests_at_admission", "int", allowed=ARREST_COUNT_CODES,
               doc="ARRESTS, 30 days before admission: 0, 1, 2 = two or more; null = none or not reported."),
        Column("arrests_at_discharge", "int", allowed=ARREST_COUNT_CODES,
               doc="ARRESTS_D, 30 days before discharge; coded as arrests_at_admission."),
    ),
    extra={"raw_columns": ("raw_discharge_reason", "raw_length_of_stay", "raw_arrests_at_admission",
                           "raw_arrests_at_discharge", "raw_referral_source", "raw_age_group", "raw_sex")},
)

TREATMENT_DISCHARGES = EntitySchema(
    name="treatment_discharges",
    table="fct_treatment_discharges",
    grain="one row per discharge (admission_id of the episode it closes) of a provider export",
    key=("admission_id",),
    person_level=True,
    columns=(
        Column("admission_id", "string", nullable=False, doc="The admission (episode) the discharge closes."),
        Column("provider_id", "string"),
        Column("client_key", "string", doc="HMAC-SHA256 hex of the provider's client id (same key as admissions)."),
        Column("admitted_on", "date", doc="Admission date as the discharge record repeats it."),
        Column("discharged_on", "date", doc="Discharge date; null when the export's date did not parse."),
        Column("length_of_stay_days", "int", doc="discharged_on - admitted_on in days (0 = same day)."),
        Column("discharge_reason", "int", allowed=REASON_CODES, doc="TEDS-D REASON code (1 = completed)."),
        Column("is_completed", "bool", doc="REASON = 1."),
        Column("arrests_at_discharge", "int", allowed=ARREST_COUNT_CODES,
               doc="TEDS-D ARRESTS_D code: arrests in the 30 days before discharge."),
        Column("is_synthetic", "bool", nullable=False, doc="True for generated demo rows."),
    ),
    extra={"raw_columns": ("raw_admitted_on", "raw_discharged_on", "raw_discharge_reason",
                           "raw_arrests_at_discharge")},
)

EARLIEST_DISCHARGE = datetime(2000, 1, 1)


def is_criminal_justice(referral_source: pd.Series) -> pd.Series:
    """Return PSOURCE == 7 as boolean; null where the code is missing (-9) or null."""
    code = pd.to_numeric(referral_source, errors="coerce").astype("Int64")
    return (code == CRIMINAL_JUSTICE_REFERRAL).astype("boolean").mask(code.isna() | (code == MISSING))


def teds_discharge_suite_parameters() -> dict:
    """Return the ``$PARAMETER`` values of expectations/teds_discharges.json."""
    return {
        "reason_codes": list(REASON_CODES), "los_codes": list(LOS_CODES),
        "arrest_codes": list(ARREST_COUNT_CODES), "stfips_codes": list(STATE_FIPS),
        "age_codes": list(CODEBOOK_VALUES["AGE"]), "sex_codes": list(CODEBOOK_VALUES["GENDER"]),
        "psource_codes": list(CODEBOOK_VALUES["PSOURCE"]),
    }


def discharge_suite_parameters(now: datetime, admission_ids=None) -> dict:
    """Return the ``$PARAMETER`` values of expectations/treatment_discharges.json.

    ``admission_ids``: admissions already loaded (a discharge of another episode is quarantined);
    None skips that check.
    """
    ts = pd.Timestamp(now)
    return {
        "earliest_discharged_on": pd.Timestamp(EARLIEST_DISCHARGE).to_pydatetime(),
        "now": (ts.tz_localize(None) if ts.tzinfo is not None else ts).to_pydatetime(),
        "reason_codes": list(REASON_CODES), "arrest_codes": list(ARREST_COUNT_CODES),
        "known_admission_ids": None if admission_ids is None else sorted(set(map(str, admission_ids))),
    }

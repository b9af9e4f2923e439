"""Canonical person-level arrests: one row per arrest of a police records / court export.

The person is only a keyed HMAC (``person_key``, the same key and the same raw identifier as the
program rosters' ``participant_key`` and the admissions' ``client_key``, so the three link without
anyone seeing an identity). The birth date never reaches the warehouse: the adapter turns it into
``age_at_arrest`` and ``age_group`` and passes it beside the frame (``born_on``) only so the suite
can quarantine arrests dated before birth. Charges are Chicago IUCR codes (4 characters, as in
``fct_incidents.iucr``); ``is_drug_charge`` follows ``schemas.iucr_codes.DRUG_CATEGORY_BY_IUCR``.
"""
from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

from schemas.base import Column, EntitySchema
from schemas.iucr_codes import DRUG_CATEGORY_BY_IUCR
from schemas.teds_codes import CODEBOOK_VALUES

OFFENSE_CATEGORIES = ("possession", "sale_delivery", "manufacture", "paraphernalia", "other_drug", "non_drug")

# TEDS AGE groups (codebook codes 1..12) by their lowest age in years: 1 = 12-14 ... 12 = 65+.
AGE_GROUP_LOWER_BOUNDS = (12, 15, 18, 21, 25, 30, 35, 40, 45, 50, 55, 65)
# Sex as the TEDS GENDER/SEX code: 1 male, 2 female, -9 unknown.
SEX_CODES = CODEBOOK_VALUES["GENDER"]

ARRESTS = EntitySchema(
    name="arrests",
    table="fct_arrests",
    grain="one row per arrest (arrest_id) of a police records or court export",
    key=("arrest_id",),
    person_level=True,
    columns=(
        Column("arrest_id", "string", nullable=False, doc="The records system's arrest (booking) id."),
        Column("person_key", "string", doc="HMAC-SHA256 hex of the person id (same key as rosters, admissions)."),
        Column("arrested_on", "date", doc="Arrest date; null when the export's date did not parse."),
        Column("charge_code", "string", doc="Lead charge, Chicago IUCR code, 4 characters ('0486', '2027', '031A')."),
        Column("offense_category", "string", allowed=OFFENSE_CATEGORIES,
               doc="Drug category of the charge (schemas.iucr_codes), 'non_drug' otherwise."),
        Column("is_drug_charge", "bool", doc="The lead charge is a drug offense (IUCR 18xx-21xx narcotics codes)."),
        Column("neighborhood_id", "string", doc="Area of the arrest, the boundary file's id (Chicago community area)."),
        Column("age_at_arrest", "int", doc="Whole years between birth and arrest dates."),
        Column("age_group", "int", allowed=CODEBOOK_VALUES["AGE"], doc="TEDS AGE group at arrest (1 = 12-14 ... 12 = 65+)."),
        Column("sex", "int", allowed=SEX_CODES, doc="TEDS sex code: 1 male, 2 female, -9 unknown."),
        Column("is_synthetic", "bool", nullable=False, doc="True for generated demo rows."),
    ),
    extra={
        # Beside the canonical columns for validation and quarantine only; the loader keeps
        # ``column_names``. ``born_on`` is the parsed birth date (never stored).
        "raw_columns": ("raw_arrested_on", "raw_birth_date", "raw_charge_code", "raw_area", "raw_sex"),
        "check_columns": ("born_on",),
    },
)

# Accepted arrest dates: from this date to the run date.
EARLIEST_ARREST = datetime(1990, 1, 1)
# Youngest and oldest plausible age at arrest (an arrest at 4 is a birth-date typo).
AGE_AT_ARREST_RANGE = (10, 100)


def age_in_years(born: pd.Series, on: pd.Series) -> pd.Series:
    """Return whole years from ``born`` to ``on`` (Int64; null where either date is null).

    Negative when ``on`` is before ``born``: the suite quarantines those rows.
    """
    b, o = pd.to_datetime(born), pd.to_datetime(on)
    years = o.dt.year - b.dt.year
    before_birthday = (o.dt.month < b.dt.month) | ((o.dt.month == b.dt.month) & (o.dt.day < b.dt.day))
    return (years - before_birthday.astype("Int64")).astype("Int64")


def age_group_code(age: pd.Series) -> pd.Series:
    """Return the TEDS AGE group code (1..12) of each age in years (Int64; null below 12 or unknown)."""
    a = pd.to_numeric(age, errors="coerce").astype("float64")
    codes = np.searchsorted(np.asarray(AGE_GROUP_LOWER_BOUNDS), a.to_numpy(), side="right")
    out = pd.Series(codes, index=age.index, dtype="Int64")
    return out.mask(a.isna() | (a < AGE_GROUP_LOWER_BOUNDS[0]))


def drug_charge(charge_code: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Return (offense_category, is_drug_charge) of 4-character IUCR codes (unknown -> non_drug, False)."""
    category = charge_code.map(DRUG_CATEGORY_BY_IUCR).fillna("non_drug").astype("str")
    return category, (category != "non_drug").astype("boolean")


def arrest_suite_parameters(now: datetime, charge_codes, neighborhood_ids=None) -> dict:
    """Return the ``$PARAMETER`` values of expectations/arrests.json.

    ``charge_codes``: accepted IUCR codes, 4 characters (``known_charge_codes`` below).
    ``neighborhood_ids``: the boundary file's ids; None skips the area check.
    Dates are passed as datetimes (GX 1.24 cannot compare a date string with a Timestamp column).
    """
    ts = pd.Timestamp(now)
    return {
        "earliest_arrested_on": pd.Timestamp(EARLIEST_ARREST).to_pydatetime(),
        "now": (ts.tz_localize(None) if ts.tzinfo is not None else ts).to_pydatetime(),
        "known_charge_codes": sorted(set(charge_codes)),
        "known_neighborhood_ids": None if neighborhood_ids is None else sorted(set(map(str, neighborhood_ids))),
        "age_min": AGE_AT_ARREST_RANGE[0],
        "age_max": AGE_AT_ARREST_RANGE[1],
        "sex_codes": list(SEX_CODES),
    }


def known_charge_codes(normalized_codes) -> list[str]:
    """Return IUCR codes as 4-character charge codes (``schemas.iucr_codes.known_iucr_codes`` strips zeros)."""
    return sorted({str(c).strip().upper().zfill(4) for c in normalized_codes})

"""Shared code maps: Chicago IUCR -> offense category and NIBRS code.

The IUCR lookup (``chicago_crimes/iucr_codes.csv``) stores codes without leading zeros
(``110``) while incident files use ``0110``; ``normalize_iucr`` makes them comparable.
"""
from __future__ import annotations

import pandas as pd

# NOTE: drug offenses are the IUCR codes under primary types NARCOTICS and OTHER NARCOTIC
# VIOLATION in iucr_codes.csv (18xx-21xx). Categories follow the secondary descriptions:
# "POSS" -> possession, "MANU/DEL"/"DELIVER"/"SOLICIT" -> sale_delivery, cultivation ->
# manufacture, needles/equipment -> paraphernalia, the rest (conspiracy, forged
# prescriptions, forfeiture, found narcotics, records) -> other_drug.
DRUG_CATEGORY_BY_IUCR: dict[str, str] = {
    **{c: "possession" for c in (
        "1811", "1812", "2020", "2021", "2022", "2023", "2024", "2025", "2026", "2027", "2028",
        "2029", "2031", "2034", "2040", "2094", "2095",
    )},
    **{c: "sale_delivery" for c in (
        "1821", "1822", "1840", "2010", "2011", "2012", "2013", "2014", "2015", "2016", "2017",
        "2018", "2019", "2030", "2032", "2033", "2070", "2092",
    )},
    **{c: "manufacture" for c in ("1850",)},
    **{c: "paraphernalia" for c in ("2110", "2111", "2120", "2160", "2170")},
    **{c: "other_drug" for c in ("1860", "1900", "2050", "2060", "2080", "2090", "2091", "2093")},
}

# NIBRS group A: 35A drug/narcotic violations, 35B drug equipment violations.
NIBRS_BY_CATEGORY = {
    "possession": "35A",
    "sale_delivery": "35A",
    "manufacture": "35A",
    "other_drug": "35A",
    "paraphernalia": "35B",
}

# NOTE: the stashed lookup predates CPD's firearm-specific codes; these appear 36,766 times in
# the 2015-2018 files (031A alone 16,093) with the descriptions below, so they are known codes.
SUPPLEMENTARY_IUCR = {
    "031A": ("ROBBERY", "ARMED: HANDGUN"),
    "031B": ("ROBBERY", "ARMED: OTHER FIREARM"),
    "033A": ("ROBBERY", "ATTEMPT ARMED: HANDGUN"),
    "033B": ("ROBBERY", "ATTEMPT ARMED: OTHER FIREARM"),
    "041A": ("BATTERY", "AGGRAVATED: HANDGUN"),
    "041B": ("BATTERY", "AGGRAVATED: OTHER FIREARM"),
    "051A": ("ASSAULT", "AGGRAVATED: HANDGUN"),
    "051B": ("ASSAULT", "AGGRAVATED: OTHER FIREARM"),
}


def normalize_iucr(codes: pd.Series) -> pd.Series:
    """Return IUCR codes upper-cased with leading zeros stripped (``0486`` -> ``486``)."""
    return codes.astype("str").str.strip().str.upper().str.lstrip("0")


def known_iucr_codes(lookup: pd.DataFrame) -> list[str]:
    """Return the normalized IUCR codes of the lookup plus the supplementary codes."""
    codes = set(normalize_iucr(lookup["IUCR"]).dropna()) | {normalize_iucr(pd.Series([c]))[0] for c in SUPPLEMENTARY_IUCR}
    return sorted(codes)


def offense_category(iucr: pd.Series) -> pd.Series:
    """Return the offense category of each IUCR code (``non_drug`` when not a drug code)."""
    norm = normalize_iucr(iucr)
    return norm.map(DRUG_CATEGORY_BY_IUCR).fillna("non_drug").astype("str")


def nibrs_code(category: pd.Series) -> pd.Series:
    """Return the NIBRS drug code for each offense category (null for non-drug)."""
    return category.map(NIBRS_BY_CATEGORY).astype("str")

"""TEDS-A code lists: the accepted values and labels of the coded admission fields.

The values below are constants so schemas and suites need no IO at import time; the labels and
2017 national frequencies come from the parsed codebook (``teds/tedsa_2017_value_labels.csv``)
through ``load_teds_codes``. A test checks the constants against that file.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from schemas.errors import InputError

VALUE_LABELS_FILE = "teds/tedsa_2017_value_labels.csv"
MISSING_CODE = -9  # codebook: "Missing/unknown/not collected/invalid"

# Accepted values per codebook variable (2017 TEDS-A codebook, value/label tables).
# NOTE: AGE and SERVICES have no -9 row in the 2017 tables (frequencies sum to 2,005,395 without
# one), so a -9 there is out of codebook. The 2017 file names sex GENDER (newer PUFs may differ).
CODEBOOK_VALUES: dict[str, tuple[int, ...]] = {
    "AGE": tuple(range(1, 13)),
    "GENDER": (-9, 1, 2),
    "SUB1": (-9, *range(1, 20)),
    "SUB2": (-9, *range(1, 20)),
    "ROUTE1": (-9, 1, 2, 3, 4, 5),
    "FREQ1": (-9, 1, 2, 3),
    "PSOURCE": (-9, *range(1, 8)),
    "NOPRIOR": (-9, *range(0, 6)),
    "SERVICES": tuple(range(1, 9)),
    "STFIPS": (
        1, 2, 4, 5, 6, 8, 9, 10, 11, 12, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28,
        29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 42, 44, 45, 46, 47, 48, 49, 50, 51, 53,
        54, 55, 56, 72,
    ),
}

# Codebook variable behind each code dimension of the warehouse.
DIMENSIONS: dict[str, str] = {
    "dim_substances": "SUB1",
    "dim_referral_sources": "PSOURCE",
    "dim_age_groups": "AGE",
    "dim_service_settings": "SERVICES",
    "dim_prior_episodes": "NOPRIOR",
    "dim_routes": "ROUTE1",
    "dim_use_frequencies": "FREQ1",
    "dim_sexes": "GENDER",
}

# SUB1/SUB2 codes that are opioids: 5 Heroin, 6 Non-prescription methadone,
# 7 Other opiates and synthetics (codebook SUB1 table; same codes flagged by HERFLG,
# METHFLG, OPSYNFLG).
HEROIN = 5
NON_RX_METHADONE = 6
OTHER_OPIATES_SYNTHETICS = 7
OPIOID_SUBSTANCE_CODES: tuple[int, ...] = (HEROIN, NON_RX_METHADONE, OTHER_OPIATES_SYNTHETICS)

# PSOURCE 7 = "Court/criminal justice referral/DUI/DWI".
CRIMINAL_JUSTICE_REFERRAL = 7

LABEL_COLUMNS = ("variable", "value", "label", "frequency_2017", "percent_2017")


def load_teds_codes(data_dir: Path) -> pd.DataFrame:
    """Return one row per (variable, value) of the codebook: variable, value (int), label, frequency_2017."""
    path = Path(data_dir) / VALUE_LABELS_FILE
    if not path.exists():
        raise InputError(path, "file not found", "Check the data directory setting (PULSE_DATA_DIR)")
    raw = pd.read_csv(path, dtype="str", keep_default_na=False)
    missing = [c for c in LABEL_COLUMNS[:4] if c not in raw.columns]
    if missing:
        raise InputError(path, f"column '{missing[0]}' is missing", "Use the parsed codebook file with a header row")
    value = pd.to_numeric(raw["value"], errors="coerce")
    freq = pd.to_numeric(raw["frequency_2017"], errors="coerce")
    bad = raw.index[value.isna() | freq.isna()]
    if len(bad):
        row = int(bad[0]) + 2  # header is line 1
        raise InputError(f"{path}:{row}", f"value '{raw.at[bad[0], 'value']}' or frequency is not a number",
                         "Fix the parsed codebook row")
    return pd.DataFrame({
        "variable": raw["variable"].str.strip().astype("str"),
        "value": value.astype("int64"),
        "label": raw["label"].str.strip().astype("str"),
        "frequency_2017": freq.astype("int64"),
    })


def code_dimension(codes: pd.DataFrame, variable: str) -> pd.DataFrame:
    """Return one row per code of ``variable``: code (Int64), label, is_missing (the -9 row)."""
    rows = codes[codes["variable"] == variable]
    if rows.empty:
        raise KeyError(f"no codebook values for variable {variable!r}")
    rows = rows.sort_values("value").reset_index(drop=True)
    return pd.DataFrame({
        "code": rows["value"].astype("Int64"),
        "label": rows["label"].astype("str"),
        "is_missing": (rows["value"] == MISSING_CODE).astype("boolean"),
    })


def code_frequencies(codes: pd.DataFrame, variable: str) -> pd.Series:
    """Return the 2017 national share of each code of ``variable`` (index = code, sums to 1)."""
    rows = codes[codes["variable"] == variable]
    if rows.empty:
        raise KeyError(f"no codebook values for variable {variable!r}")
    freq = rows.set_index("value")["frequency_2017"].astype("float64")
    return freq / freq.sum()


def parameter_name(variable: str) -> str:
    """Return the suite parameter naming a variable's accepted codes (``SUB1`` -> ``sub1_codes``)."""
    return f"{variable.lower()}_codes"


def code_parameters(variables: tuple[str, ...] | None = None) -> dict[str, list[int]]:
    """Return ``{"sub1_codes": [...], ...}``: accepted codes per variable, for GX suite parameters."""
    names = variables or tuple(CODEBOOK_VALUES)
    return {parameter_name(v): list(CODEBOOK_VALUES[v]) for v in names}

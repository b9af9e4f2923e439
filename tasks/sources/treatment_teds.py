"""Adapter for TEDS-A public-use files (SAMHSA), the raw numeric-coded layout.

Columns are the upper-case codebook variables (``CASEID, ADMYR, STFIPS, CBSA2010, AGE,
GENDER, SUB1, ...``), -9 = missing. The public file's finest geography is the CBSA, so these
rows are a state-level fact and are never geocoded to neighborhoods.

NOTE: ``teds/tedsa_2017_subset_semework.csv`` (real 2017 rows re-saved by pandas) differs from
the PUF: codes are float text (``2.0``), Census/city columns were merged on, ADMYR, GENDER and
PSOURCE are absent, and its last 9 rows are empty in every TEDS column. ``read_raw`` keeps only
codebook columns; ``to_standard`` casts floats back to int, leaves absent columns null (with a
note) and returns unusable rows as rejects with a reason.
"""
from __future__ import annotations

import gzip
import zlib
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from schemas.treatment import CODE_COLUMNS, TEDS_STATE_ADMISSIONS
from schemas.errors import InputError
from tasks.sources.csv_reader import check_columns, read_header

SLUG = "treatment_teds"

# The 62 variables of the 2017 TEDS-A codebook, Appendix A (teds/tedsa_2017_variables.csv).
TEDS_VARIABLES = (
    "ADMYR", "AGE", "ALCDRUG", "ALCFLG", "AMPHFLG", "ARRESTS", "BARBFLG", "BENZFLG", "CASEID",
    "CBSA2010", "COKEFLG", "DAYWAIT", "DETCRIM", "DETNLF", "DIVISION", "DSMCRIT", "EDUC", "EMPLOY",
    "ETHNIC", "FREQ1", "FREQ2", "FREQ3", "FREQ_ATND_SELF_HELP", "FRSTUSE1", "FRSTUSE2", "FRSTUSE3",
    "GENDER", "HALLFLG", "HERFLG", "HLTHINS", "IDU", "INHFLG", "LIVARAG", "MARFLG", "MARSTAT",
    "METHFLG", "METHUSE", "MTHAMFLG", "NOPRIOR", "OPSYNFLG", "OTCFLG", "OTHERFLG", "PCPFLG", "PREG",
    "PRIMINC", "PRIMPAY", "PSOURCE", "PSYPROB", "RACE", "REGION", "ROUTE1", "ROUTE2", "ROUTE3",
    "SEDHPFLG", "SERVICES", "STFIPS", "STIMFLG", "SUB1", "SUB2", "SUB3", "TRNQFLG", "VET",
)
REQUIRED_COLUMNS = ("CASEID", "STFIPS", "AGE", "SUB1", "SUB2", "ROUTE1", "FREQ1", "NOPRIOR", "SERVICES")
# Canonical columns that may be absent from an extract (then null, with a note).
OPTIONAL_SOURCES = {"admission_year": "ADMYR", "cbsa": "CBSA2010", "sex": "GENDER", "referral_source": "PSOURCE"}
INT_SOURCES = {"admission_year": "ADMYR", "state_fips": "STFIPS", "cbsa": "CBSA2010", **CODE_COLUMNS}


class TedsStandard(NamedTuple):
    admissions: pd.DataFrame  # TEDS_STATE_ADMISSIONS columns, one row per usable record
    rejects: pd.DataFrame  # row (0-based data row), caseid, reason
    notes: list[str]  # absent optional columns and what was done about them


def read_raw(path: Path) -> pd.DataFrame:
    """Return the codebook columns of a TEDS-A CSV as text, one row per data line.

    Other columns (merged extras, pandas index artefacts) are left out. Raises InputError for a
    missing/empty/header-only file, a missing required column, non-UTF-8 bytes or a truncated gzip.
    """
    path = Path(path)
    header = read_header(path)
    check_columns(path, header, REQUIRED_COLUMNS)
    keep = [h for h in header if h in TEDS_VARIABLES]
    try:
        raw = pd.read_csv(path, dtype="str", usecols=keep, keep_default_na=False, na_values=[""],
                          encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(path, f"bytes are not UTF-8 (position {exc.start} of a data block)",
                         "Re-save the file as UTF-8") from None
    except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as exc:
        raise InputError(path, f"file is truncated or corrupt ({exc})", "Re-download the file") from None
    if raw.empty:
        raise InputError(path, "file has a header but no data rows", "Use a file with TEDS-A records")
    return raw[keep].astype("str")


def _whole_numbers(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Return (Int64 values, mask of non-blank text that is not a whole number)."""
    s = text.astype("str").str.strip()
    s = s.mask(s == "")
    num = pd.to_numeric(s, errors="coerce")
    # Values beyond 2**53 are not codes (and would overflow Int64): treat them as not whole numbers.
    whole = num.notna() & np.isfinite(num) & (num == np.floor(num)) & (num.abs() < 2**53)
    return num.where(whole).astype("Int64"), s.notna() & ~whole


def to_standard(raw: pd.DataFrame, default_admission_year: int | None = None) -> TedsStandard:
    """Return TEDS_STATE_ADMISSIONS rows (one per usable record), the rejected rows and notes.

    Rows empty in every TEDS column, rows without CASEID and rows with a code that is not a
    whole number are rejected with a reason. ``default_admission_year`` fills admission_year
    when the file lacks ADMYR (a PUF covers one admission year, e.g. 2017).
    """
    teds_cols = [c for c in raw.columns if c in TEDS_VARIABLES]
    text = raw[teds_cols].apply(lambda s: s.astype("str").str.strip())
    blank = text.isna() | (text == "")
    reasons = pd.Series(pd.NA, index=raw.index, dtype="str")
    reasons[blank.all(axis=1)] = "empty in every TEDS column"

    notes: list[str] = []
    out: dict[str, pd.Series] = {}
    caseid, bad_id = _whole_numbers(raw["CASEID"])
    out["caseid"] = caseid.astype("str")
    reasons[reasons.isna() & bad_id] = "CASEID '" + raw["CASEID"].astype("str") + "' is not a whole number"
    reasons[reasons.isna() & caseid.isna()] = "CASEID is empty"
    for col, var in INT_SOURCES.items():
        if var not in raw.columns:
            out[col] = pd.Series(pd.NA, index=raw.index, dtype="Int64")
            if col == "admission_year" and default_admission_year is not None:
                out[col] = out[col].fillna(int(default_admission_year))
                notes.append(f"{var} absent: admission_year set to {default_admission_year} for every row")
            else:
                notes.append(f"{var} absent: {col} left null")
            continue
        values, bad = _whole_numbers(raw[var])
        out[col] = values
        reasons[reasons.isna() & bad] = var + " '" + raw[var].astype("str") + "' is not a whole number"
    frame = TEDS_STATE_ADMISSIONS.coerce(pd.DataFrame(out, index=raw.index))
    rejected = reasons.notna()
    rejects = pd.DataFrame({
        "row": np.flatnonzero(rejected.to_numpy()).astype("int64"),
        "caseid": raw.loc[rejected, "CASEID"].astype("str").to_numpy(),
        "reason": reasons[rejected].astype("str").to_numpy(),
    })
    return TedsStandard(frame[~rejected].reset_index(drop=True), rejects, notes)

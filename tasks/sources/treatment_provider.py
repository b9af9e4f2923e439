"""Adapter for treatment-provider admission exports (TEDS-A coded CSV, one line per admission).

Layout (header names, case-insensitive): ``ADMISSION_ID, PROVIDER_ID, CLIENT_ID, ADMIT_DATE
(MM/DD/YYYY), AGE, GENDER, SUB1, SUB2, ROUTE1, FREQ1, PSOURCE, NOPRIOR, SERVICES, ADDRESS, ZIP``
and optionally ``SYNTHETIC`` (Y on generated rows). Codes are TEDS-A integers, -9 = missing.

``to_standard`` never rejects a row: bad dates and codes become null with the export's text kept
in ``raw_*`` columns, so the suite ``expectations/treatment_admissions.json`` can send them to
quarantine with the value that was wrong. The client id is replaced by a keyed HMAC inside
``to_standard``; the street address leaves as a separate series for the geocoder only.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from schemas.treatment import ADMISSIONS, CODE_COLUMNS
from schemas.errors import InputError
from tasks.ingest.pseudonymize import pseudonymize
from tasks.sources.csv_reader import check_columns, iter_csv_batches, read_header

SLUG = "treatment_provider"
DATE_FORMAT = "%m/%d/%Y"
REQUIRED_COLUMNS = (
    "ADMISSION_ID", "PROVIDER_ID", "CLIENT_ID", "ADMIT_DATE", *CODE_COLUMNS.values(), "ADDRESS", "ZIP",
)
OPTIONAL_COLUMNS = ("SYNTHETIC",)
_ZIP5 = r"^(\d{5})(?:-?\d{4})?$"


def read_raw(path: Path) -> pd.DataFrame:
    """Return the export as text, one row per data line, columns upper-cased (all ``str``).

    Raises InputError (one line, naming the file and the column or line) for a missing file,
    an empty or header-only file, a missing/renamed column, non-UTF-8 bytes or a truncated gzip.
    """
    path = Path(path)
    header = read_header(path)
    upper = [h.upper() for h in header]
    check_columns(path, upper, REQUIRED_COLUMNS)
    batches = list(iter_csv_batches(path))
    rows = sum(b.num_rows for b in batches)
    if rows == 0:
        raise InputError(path, "file has a header but no data rows", "Re-export the admissions with their rows")
    table = pa.Table.from_batches(batches)
    frame = table.to_pandas()
    frame.columns = upper
    return frame.astype("str")


def _text(raw: pd.DataFrame, column: str) -> pd.Series:
    s = raw[column].astype("str").str.strip()
    return s.mask(s == "")


def _codes(text: pd.Series) -> pd.Series:
    # "5" and "5.0" are code 5; "UNK", "" or "5.5" are not codes -> null (raw text kept).
    num = pd.to_numeric(text, errors="coerce")
    # Codes are small integers; a huge number ('1e30') is not a code (and would overflow Int64).
    whole = num.notna() & np.isfinite(num) & (num == np.floor(num)) & (num.abs() < 2**53)
    return num.where(whole).astype("Int64")


def _zip5(text: pd.Series) -> pd.Series:
    # ZIP+4 is cut to 5 digits; anything else stays as written so the suite can flag it.
    five = text.str.extract(_ZIP5, expand=False)
    return five.fillna(text).astype("str")


def to_standard(raw: pd.DataFrame, key: bytes) -> tuple[pd.DataFrame, pd.Series]:
    """Return (admissions, address): one row per export line in ADMISSIONS columns followed by
    ``raw_admitted_on`` and ``raw_<code column>`` text, and the street address (same index).

    The client id is pseudonymized with ``key`` (HMAC-SHA256) and the raw id is not returned.
    Geocode columns are null until the geocoder fills them.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in raw.columns]
    if missing:
        raise InputError("provider export", f"column '{missing[0]}' is missing", "Read it with read_raw")
    n = len(raw)
    date_text = _text(raw, "ADMIT_DATE")
    admitted = pd.to_datetime(date_text, format=DATE_FORMAT, errors="coerce")
    synthetic = (
        _text(raw, "SYNTHETIC").str.upper().isin(["Y", "YES", "TRUE", "1"])
        if "SYNTHETIC" in raw.columns else pd.Series(False, index=raw.index)
    )
    columns = {
        "admission_id": _text(raw, "ADMISSION_ID"),
        "provider_id": _text(raw, "PROVIDER_ID"),
        "admitted_on": admitted,
        "client_key": pseudonymize(_text(raw, "CLIENT_ID"), key),
        **{col: _codes(_text(raw, field)) for col, field in CODE_COLUMNS.items()},
        "residence_zip": _zip5(_text(raw, "ZIP")),
        "is_synthetic": synthetic.astype("boolean"),
        "neighborhood_id": pd.Series([None] * n, index=raw.index, dtype="str"),
        "geocode_method": pd.Series([None] * n, index=raw.index, dtype="str"),
        "geocode_precision": pd.Series([None] * n, index=raw.index, dtype="str"),
        "match_score": pd.Series(np.nan, index=raw.index, dtype="float64"),
    }
    std = ADMISSIONS.coerce(pd.DataFrame(columns, index=raw.index))
    raw_text = pd.DataFrame(
        {"raw_admitted_on": raw["ADMIT_DATE"].astype("str"),
         **{f"raw_{col}": raw[field].astype("str") for col, field in CODE_COLUMNS.items()}},
        index=raw.index,
    )
    address = _text(raw, "ADDRESS").rename("address")
    return pd.concat([std, raw_text], axis=1), address

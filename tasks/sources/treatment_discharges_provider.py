"""Adapter for treatment-provider discharge exports (TEDS-D coded CSV, one line per discharge).

Layout (header names, any case): ``ADMISSION_ID, PROVIDER_ID, CLIENT_ID, ADMIT_DATE, DISCHARGE_DATE
(MM/DD/YYYY, as in the admissions export), REASON, ARRESTS_D`` and optionally ``SYNTHETIC``.
``REASON`` and ``ARRESTS_D`` are TEDS-D codes (``schemas/discharges.py``). One discharge closes one
admission (episode), so ``ADMISSION_ID`` is the key and matches the admissions export.

``to_standard`` never drops a row: bad dates and codes become null with the export's text in
``raw_*`` columns for expectations/treatment_discharges.json. The client id leaves as the same
keyed HMAC the admissions adapter uses, so discharges link to admissions, rosters and arrests.
"""
from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from schemas.discharges import COMPLETED, TREATMENT_DISCHARGES, discharge_suite_parameters
from schemas.errors import InputError
from tasks.ingest.pseudonymize import check_key, pseudonymize
from tasks.sources.adapter import QUARANTINE_REASON, Adapter
from tasks.sources.csv_reader import check_columns, iter_csv_batches, read_header

SLUG = "treatment_discharges_provider"
SUITE = "treatment_discharges"
DATE_FORMAT = "%m/%d/%Y"
REQUIRED_COLUMNS = ("ADMISSION_ID", "PROVIDER_ID", "CLIENT_ID", "ADMIT_DATE", "DISCHARGE_DATE", "REASON", "ARRESTS_D")
OPTIONAL_COLUMNS = ("SYNTHETIC",)
EXPORT_COLUMNS = (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)
SENSITIVE_COLUMNS = ("CLIENT_ID",)


def read_raw(path: Path) -> Iterator[pa.RecordBatch]:
    """Yield the export as Arrow batches of text (header checked in any case); InputError on bad files."""
    path = Path(path)
    check_columns(path, [h.upper() for h in read_header(path)], REQUIRED_COLUMNS)
    rows = 0
    for batch in iter_csv_batches(path):
        rows += batch.num_rows
        yield batch
    if rows == 0:
        raise InputError(path, "file has a header but no data rows", "Re-export the discharges with their rows")


def _text(raw: pd.DataFrame, column: str) -> pd.Series:
    s = raw[column].astype("str").str.strip()
    return s.mask(s == "")


def _codes(text: pd.Series) -> pd.Series:
    num = pd.to_numeric(text, errors="coerce")
    whole = num.notna() & np.isfinite(num) & (num == np.floor(num)) & (num.abs() < 2**53)
    return num.where(whole).astype("Int64")


def to_standard(raw: pd.DataFrame, key: bytes) -> pd.DataFrame:
    """Return one row per export line (same index): TREATMENT_DISCHARGES columns, ``raw_*`` text and
    ``quarantine_reason`` (lines empty in every field). The client id is pseudonymized with ``key``."""
    upper = raw.rename(columns=lambda c: str(c).strip().upper())
    missing = [c for c in REQUIRED_COLUMNS if c not in upper.columns]
    if missing:
        raise InputError("discharge export", f"column '{missing[0]}' is missing", "Read it with read_raw")
    admitted = pd.to_datetime(_text(upper, "ADMIT_DATE"), format=DATE_FORMAT, errors="coerce")
    discharged = pd.to_datetime(_text(upper, "DISCHARGE_DATE"), format=DATE_FORMAT, errors="coerce")
    reason = _codes(_text(upper, "REASON"))
    synthetic = (_text(upper, "SYNTHETIC").str.upper().isin(["Y", "YES", "TRUE", "1"])
                 if "SYNTHETIC" in upper.columns else pd.Series(False, index=raw.index))
    std = TREATMENT_DISCHARGES.coerce(pd.DataFrame({
        "admission_id": _text(upper, "ADMISSION_ID"),
        "provider_id": _text(upper, "PROVIDER_ID"),
        "client_key": pseudonymize(_text(upper, "CLIENT_ID"), key),
        "admitted_on": admitted,
        "discharged_on": discharged,
        "length_of_stay_days": (discharged - admitted).dt.days.astype("Int64"),
        "discharge_reason": reason,
        "is_completed": (reason == COMPLETED).astype("boolean").mask(reason.isna()),
        "arrests_at_discharge": _codes(_text(upper, "ARRESTS_D")),
        "is_synthetic": synthetic.astype("boolean"),
    }, index=raw.index))
    fields = [c for c in EXPORT_COLUMNS if c in upper.columns]
    empty = upper[fields].apply(lambda s: s.astype("str").str.strip().fillna("") == "").all(axis=1)
    extra = pd.DataFrame({
        "raw_admitted_on": upper["ADMIT_DATE"].astype("str"),
        "raw_discharged_on": upper["DISCHARGE_DATE"].astype("str"),
        "raw_discharge_reason": upper["REASON"].astype("str"),
        "raw_arrests_at_discharge": upper["ARRESTS_D"].astype("str"),
        QUARANTINE_REASON: pd.Series(None, index=raw.index, dtype="str").mask(empty, "line is empty in every field"),
    }, index=raw.index)
    return pd.concat([std, extra], axis=1)


def provider_discharges_adapter(key: bytes, now: datetime, admission_ids=None) -> Adapter:
    """Return the provider discharges adapter: pseudonymization key, run time and (optionally) the
    admission ids already loaded (a discharge of any other episode is quarantined)."""
    check_key(key)

    def standardize(batch: pd.DataFrame) -> pd.DataFrame:
        return to_standard(batch, key)

    return Adapter(slug=SLUG, schema=TREATMENT_DISCHARGES, suite=SUITE, read_raw=read_raw, to_standard=standardize,
                   sensitive_columns=SENSITIVE_COLUMNS, geocoder=None,
                   suite_parameters=discharge_suite_parameters(now, admission_ids))

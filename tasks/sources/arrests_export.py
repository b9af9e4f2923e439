"""Adapter for person-level arrest exports (police records system / court export, one line per arrest).

Layout (header names, any case): ``ARREST_ID, PERSON_ID, BIRTH_DATE, SEX, ARREST_DATE, CHARGE_CODE,
AREA`` and optionally ``SYNTHETIC`` (Y on generated rows). Dates are ``YYYY-MM-DD``; ``SEX`` is
M / F / U (or MALE / FEMALE / UNKNOWN, or blank); ``CHARGE_CODE`` is the Chicago IUCR code of the
lead charge (``486`` and ``0486`` are the same); ``AREA`` is the boundary file's id of the arrest
location (Chicago: community area number).

``to_standard`` never drops a row: unparseable dates, unknown sexes and codes become null or pass
through with the export's text in ``raw_*`` columns, so expectations/arrests.json quarantines them
with the value that was wrong. ``PERSON_ID`` leaves as a keyed HMAC; ``BIRTH_DATE`` leaves only as
``age_at_arrest`` / ``age_group`` (and ``born_on`` beside the frame for the before-birth check).
A line empty in every field gets a ``quarantine_reason``.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa

from schemas.arrests import ARRESTS, age_group_code, age_in_years, arrest_suite_parameters, drug_charge
from schemas.errors import InputError
from tasks.ingest.pseudonymize import check_key, pseudonymize
from tasks.sources.adapter import QUARANTINE_REASON, Adapter
from tasks.sources.csv_reader import check_columns, iter_csv_batches, read_header

SLUG = "arrests_export"
SUITE = "arrests"
DATE_FORMAT = "%Y-%m-%d"
REQUIRED_COLUMNS = ("ARREST_ID", "PERSON_ID", "BIRTH_DATE", "SEX", "ARREST_DATE", "CHARGE_CODE", "AREA")
OPTIONAL_COLUMNS = ("SYNTHETIC",)
EXPORT_COLUMNS = (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)
# Never copied into quarantine.raw_record (the raw landing zone keeps them).
SENSITIVE_COLUMNS = ("PERSON_ID", "BIRTH_DATE")
SEX_TEXT = {"M": 1, "MALE": 1, "F": 2, "FEMALE": 2, "U": -9, "UNKNOWN": -9, "X": -9, "": -9}


def read_raw(path: Path) -> Iterator[pa.RecordBatch]:
    """Yield the export as Arrow batches of text, exactly as written (header checked in any case).

    Raises InputError (one line: file, column or row, what to do) for a missing, empty or
    header-only file, a missing column, non-UTF-8 bytes or a truncated gzip.
    """
    path = Path(path)
    check_columns(path, [h.upper() for h in read_header(path)], REQUIRED_COLUMNS)
    rows = 0
    for batch in iter_csv_batches(path):
        rows += batch.num_rows
        yield batch
    if rows == 0:
        raise InputError(path, "file has a header but no data rows", "Re-export the arrests with their rows")


def _text(raw: pd.DataFrame, column: str) -> pd.Series:
    s = raw[column].astype("str").str.strip()
    return s.mask(s == "")


def _dates(text: pd.Series) -> pd.Series:
    return pd.to_datetime(text, format=DATE_FORMAT, errors="coerce").astype("datetime64[us]")


def _charge_codes(text: pd.Series) -> pd.Series:
    # '486' and '0486' are one code; case and surrounding blanks do not matter.
    code = text.str.upper().str.lstrip("0").str.zfill(4)
    return code.mask(text.isna()).astype("str")


def _areas(text: pd.Series) -> pd.Series:
    # Community area '07' is area '7'; anything else passes through for the suite to judge.
    whole = text.str.fullmatch(r"\d+", na=False)
    return text.where(~whole, text.str.lstrip("0").replace("", "0")).astype("str")


def to_standard(raw: pd.DataFrame, key: bytes) -> pd.DataFrame:
    """Return one row per export line (same index): ARRESTS columns, then ``raw_*`` text,
    ``born_on`` and ``quarantine_reason`` (set only for lines empty in every field).

    The person id is pseudonymized with ``key``; the raw id and the birth date are not returned.
    """
    upper = raw.rename(columns=lambda c: str(c).strip().upper())
    missing = [c for c in REQUIRED_COLUMNS if c not in upper.columns]
    if missing:
        raise InputError("arrests export", f"column '{missing[0]}' is missing", "Read it with read_raw")
    arrested, born = _dates(_text(upper, "ARREST_DATE")), _dates(_text(upper, "BIRTH_DATE"))
    sex_text = _text(upper, "SEX").fillna("").str.upper()
    charge = _charge_codes(_text(upper, "CHARGE_CODE"))
    category, is_drug = drug_charge(charge)
    age = age_in_years(born, arrested)
    synthetic = (_text(upper, "SYNTHETIC").str.upper().isin(["Y", "YES", "TRUE", "1"])
                 if "SYNTHETIC" in upper.columns else pd.Series(False, index=raw.index))
    std = ARRESTS.coerce(pd.DataFrame({
        "arrest_id": _text(upper, "ARREST_ID"),
        "person_key": pseudonymize(_text(upper, "PERSON_ID"), key),
        "arrested_on": arrested,
        "charge_code": charge,
        "offense_category": category.mask(charge.isna()),
        "is_drug_charge": is_drug.mask(charge.isna()),
        "neighborhood_id": _areas(_text(upper, "AREA")),
        "age_at_arrest": age,
        "age_group": age_group_code(age),
        "sex": sex_text.map(SEX_TEXT).astype("Int64"),
        "is_synthetic": synthetic.astype("boolean"),
    }, index=raw.index))
    fields = [c for c in EXPORT_COLUMNS if c in upper.columns]
    empty = upper[fields].apply(lambda s: s.astype("str").str.strip().fillna("") == "").all(axis=1)
    extra = pd.DataFrame({
        "raw_arrested_on": upper["ARREST_DATE"].astype("str"),
        "raw_birth_date": upper["BIRTH_DATE"].astype("str"),
        "raw_charge_code": upper["CHARGE_CODE"].astype("str"),
        "raw_area": upper["AREA"].astype("str"),
        "raw_sex": upper["SEX"].astype("str"),
        "born_on": born,
        QUARANTINE_REASON: pd.Series(None, index=raw.index, dtype="str").mask(empty, "line is empty in every field"),
    }, index=raw.index)
    return pd.concat([std, extra], axis=1)


def arrests_export_adapter(key: bytes, now: datetime, charge_codes: Sequence[str],
                           neighborhood_ids: Sequence[str] | None = None) -> Adapter:
    """Return the arrests adapter with the pseudonymization key and the suite's run-time values.

    ``charge_codes``: accepted 4-character IUCR codes (``schemas.arrests.known_charge_codes``);
    ``neighborhood_ids``: the boundary file's ids (None skips the area check); ``now``: run time
    (arrests after it are quarantined as future dates).
    """
    check_key(key)

    def standardize(batch: pd.DataFrame) -> pd.DataFrame:
        return to_standard(batch, key)

    return Adapter(slug=SLUG, schema=ARRESTS, suite=SUITE, read_raw=read_raw, to_standard=standardize,
                   sensitive_columns=SENSITIVE_COLUMNS, geocoder=None,
                   suite_parameters=arrest_suite_parameters(now, charge_codes, neighborhood_ids))

"""Adapter for TEDS-D (discharges) public-use rows: the state-level treatment outcome fact.

Two layouts, told apart by the header:

- ``numeric``: the PUF as SAMHSA publishes it, upper-case codebook variables (``CASEID, DISYR,
  STFIPS, AGE, SEX`` (or ``GENDER``), ``SUB1, PSOURCE, SERVICES, REASON, LOS, ARRESTS, ARRESTS_D``),
  integer codes, -9 = missing.
- ``decoded``: ``teds/tedsd_2023_sample_decoded.csv`` (1,000 real 2023 rows), which a third party
  decoded to text labels and renamed (``patient_id, discharge_year, age_group, sex, ...``). Its
  labels are mapped back to the codes here.

NOTE (decoded layout; evidence: the decoding notebook ``2_data_preparation/cleaning_teds_d.ipynb``
of Moe-phantom/ELO2_Asclepios_Ai, and the sample itself):
- ``length_of_stay`` labels are wrong: the notebook maps LOS codes 1..6 to '1-7 days', '8-30 days',
  '31-90 days', '91-180 days', '181-365 days', 'More than 1 year', but TEDS-D LOS codes 1..30 are
  single days. So '1-7 days' is LOS 1 (one day) ... 'More than 1 year' is LOS 6 (six days), and
  blank is LOS 7..37 or missing. The sample agrees: 12 of 141 24-hour residential detox stays read
  'More than 1 year'. We keep LOS 1..6 and leave blank as null ("7 days or more, or unknown").
- the ARRESTS label 'None' was written to CSV and read back by pandas as missing, so a blank
  ``arrests_admit`` / ``arrests_discharge`` is "none or not reported" (no 'None' label appears);
  we keep it null and the benchmark says how it counts them.
- the engineered ``dropped_out`` / ``terminated`` / ``transferred`` flags are shifted (REASON 2-3,
  4 and 5), so outcomes come from ``discharge_reason`` only.
- the SUB1 label 'None' (code 1) was lost the same way, so a blank primary substance is "none or
  missing" and stays null; blank sex and referral source are the notebook's -9 and read -9.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from schemas.discharges import (MISSING, REASON_CODES, TEDS_STATE_DISCHARGES, is_criminal_justice,
                                teds_discharge_suite_parameters)
from schemas.errors import InputError
from tasks.sources.adapter import QUARANTINE_REASON, Adapter
from tasks.sources.csv_reader import iter_csv_batches, read_header

SLUG = "treatment_discharges_teds"
SUITE = "teds_discharges"

# canonical column -> (numeric PUF variable, decoded-sample column)
FIELDS = {
    "caseid": ("CASEID", "patient_id"),
    "discharge_year": ("DISYR", "discharge_year"),
    "state_fips": ("STFIPS", "state"),
    "age_group": ("AGE", "age_group"),
    "sex": ("SEX", "sex"),
    "primary_substance": ("SUB1", "primary_substance_admit"),
    "referral_source": ("PSOURCE", "referral_source"),
    "service_setting": ("SERVICES", "service_type_admit"),
    "discharge_reason": ("REASON", "discharge_reason"),
    "length_of_stay": ("LOS", "length_of_stay"),
    "arrests_at_admission": ("ARRESTS", "arrests_admit"),
    "arrests_at_discharge": ("ARRESTS_D", "arrests_discharge"),
}
REQUIRED = ("caseid", "discharge_reason")
RAW_OF = {"discharge_reason": "raw_discharge_reason", "length_of_stay": "raw_length_of_stay",
          "arrests_at_admission": "raw_arrests_at_admission", "arrests_at_discharge": "raw_arrests_at_discharge",
          "referral_source": "raw_referral_source", "age_group": "raw_age_group", "sex": "raw_sex"}


def _labels(*names: str, start: int = 1) -> dict[str, int]:
    return {name: code for code, name in enumerate(names, start=start)}


# Decoded-sample labels -> codes (the decoding notebook's label tables, reversed).
LABELS: dict[str, dict[str, int]] = {
    "age_group": _labels("12-14", "15-17", "18-20", "21-24", "25-29", "30-34", "35-39", "40-44", "45-49",
                         "50-54", "55-64", "65+"),
    "sex": _labels("Male", "Female"),
    "primary_substance": _labels(
        "None", "Alcohol", "Cocaine/crack", "Marijuana/hashish", "Heroin", "Non-Rx methadone",
        "Other opiates/synthetics", "PCP", "Hallucinogens", "Methamphetamine/speed", "Other amphetamines",
        "Other stimulants", "Benzodiazepines", "Other tranquilizers", "Barbiturates", "Other sedatives/hypnotics",
        "Inhalants", "OTC medications", "Other drugs"),
    "referral_source": _labels("Self/Individual", "Alcohol/drug provider", "Other healthcare", "School",
                               "Employer/EAP", "Other community", "Criminal justice/DUI/DWI"),
    "service_setting": _labels("Detox 24hr Hospital", "Detox 24hr Residential", "Rehab Hospital",
                               "Rehab Short-term (≤30 days)", "Rehab Long-term (>30 days)", "Intensive Outpatient",
                               "Non-intensive Outpatient", "Outpatient Detox"),
    "discharge_reason": _labels("Treatment completed", "Dropped out", "Terminated by facility", "Transferred",
                                "Incarcerated", "Death", "Other"),
    # NOTE: see the module docstring: these labels stand for LOS codes 1..6 (days), not ranges.
    "length_of_stay": _labels("1-7 days", "8-30 days", "31-90 days", "91-180 days", "181-365 days",
                              "More than 1 year"),
    "arrests_at_admission": _labels("None", "Once", "Two or more", start=0),
    "arrests_at_discharge": _labels("None", "Once", "Two or more", start=0),
}
# Decoded blanks: the notebook's -9 for these columns; for the others blank stays null (see NOTE).
BLANK_IS_MISSING = ("sex", "referral_source")


def layout_of(header: list[str]) -> str:
    """Return 'numeric' or 'decoded' for a TEDS-D header, else raise InputError naming what is missing."""
    if "CASEID" in [h.upper() for h in header]:
        return "numeric"
    if "patient_id" in header:
        return "decoded"
    raise InputError("TEDS-D file", "header has neither CASEID (public-use file) nor patient_id (decoded sample)",
                     "Use a TEDS-D public-use CSV or the decoded sample layout")


def read_raw(path: Path) -> Iterator[pa.RecordBatch]:
    """Yield the file as Arrow batches of text, exactly as written, after checking its layout.

    Raises InputError for a missing, empty or header-only file, an unknown layout or a missing
    required column (CASEID/REASON or patient_id/discharge_reason).
    """
    path = Path(path)
    header = read_header(path)
    try:
        layout = layout_of(header)
    except InputError as exc:
        raise InputError(path, exc.problem, exc.action) from None
    names = [h.upper() for h in header] if layout == "numeric" else header
    for col in REQUIRED:
        want = FIELDS[col][0 if layout == "numeric" else 1]
        if want not in names:
            raise InputError(path, f"column '{want}' is missing", "Use the TEDS-D layout with a discharge reason")
    rows = 0
    for batch in iter_csv_batches(path):
        rows += batch.num_rows
        yield batch
    if rows == 0:
        raise InputError(path, "file has a header but no data rows", "Use a file with TEDS-D records")


def _text(raw: pd.DataFrame, column: str | None) -> pd.Series:
    if column is None or column not in raw.columns:
        return pd.Series(pd.NA, index=raw.index, dtype="str")
    s = raw[column].astype("str").str.strip()
    return s.mask(s == "")


def _whole(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Return (Int64 values, mask of non-blank text that is not a whole number); '5.0' is 5."""
    num = pd.to_numeric(text, errors="coerce")
    whole = num.notna() & np.isfinite(num) & (num == np.floor(num)) & (num.abs() < 2**53)
    return num.where(whole).astype("Int64"), text.notna() & ~whole


def _codes(raw: pd.DataFrame, layout: str) -> tuple[dict[str, pd.Series], pd.Series]:
    """Return canonical code columns and, per row, the first reason a field could not be read."""
    reasons = pd.Series(pd.NA, index=raw.index, dtype="str")
    out: dict[str, pd.Series] = {}
    for col, (var, decoded) in FIELDS.items():
        name = var if layout == "numeric" else decoded
        if layout == "numeric" and col == "sex" and name not in raw.columns:
            name = "GENDER"  # older PUFs call it GENDER
        text = _text(raw, name)
        if col == "caseid":
            out[col] = text
            continue
        if layout == "numeric" or col not in LABELS:
            values, bad = _whole(text)
            what = f"{name} '" + text.astype("str") + "' is not a whole number"
        else:
            values = text.map(LABELS[col]).astype("Int64")
            bad = text.notna() & values.isna()
            what = f"{name} label '" + text.astype("str") + "' is not a TEDS-D label"
            if col in BLANK_IS_MISSING:
                values = values.mask(text.isna(), MISSING)
        reasons = reasons.mask(reasons.isna() & bad, what)
        out[col] = values
    return out, reasons


def to_standard(raw: pd.DataFrame) -> pd.DataFrame:
    """Return one row per input row (same index): TEDS_STATE_DISCHARGES columns, ``raw_*`` text and
    ``quarantine_reason`` (a field that is not a number / not a known label; a line empty in every field)."""
    layout = layout_of(list(raw.columns))
    codes, reasons = _codes(raw, layout)
    reason = codes["discharge_reason"]
    frame = TEDS_STATE_DISCHARGES.coerce(pd.DataFrame({
        **codes,
        "is_criminal_justice_referral": is_criminal_justice(codes["referral_source"]),
        "is_completed": (reason == REASON_CODES[0]).astype("boolean").mask(reason.isna()),
    }, index=raw.index))
    empty = raw.apply(lambda s: s.astype("str").str.strip().fillna("") == "").all(axis=1)
    reasons = reasons.mask(empty, "line is empty in every field")
    names = {col: FIELDS[col][0 if layout == "numeric" else 1] for col in RAW_OF}
    extra = pd.DataFrame({raw_col: _text(raw, names[col]) for col, raw_col in RAW_OF.items()}, index=raw.index)
    extra[QUARANTINE_REASON] = reasons
    return pd.concat([frame, extra], axis=1)


ADAPTER = Adapter(slug=SLUG, schema=TEDS_STATE_DISCHARGES, suite=SUITE, read_raw=read_raw, to_standard=to_standard,
                  geocoder=None, suite_parameters=teds_discharge_suite_parameters())

"""Code tables the dbt models read as sources: IUCR offense codes and TEDS-A code labels.

They are public code lists kept in the shared data folder (never committed as dbt seeds). Each
is rebuilt from its file (``iucr_reference``, ``teds_reference``: pure frame builders) and
written by ``warehouse.code_table_loader.load_code_tables`` before every dbt build. The tables
are defined in ``warehouse.tables``; the dbt project declares them in ``warehouse/models/sources.yml`` (source ``codes``).
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from schemas.iucr_codes import SUPPLEMENTARY_IUCR, nibrs_code, normalize_iucr, offense_category
from schemas.teds_codes import MISSING_CODE
from schemas.errors import InputError
from warehouse.tables import ref_iucr_codes

IUCR_COLUMNS = {"PRIMARY DESCRIPTION": "primary_description", "SECONDARY DESCRIPTION": "secondary_description"}

def iucr_reference(lookup: pd.DataFrame, where: str = "IUCR lookup") -> pd.DataFrame:
    """Return one row per IUCR code (published lookup plus supplementary codes), ref_iucr_codes columns.

    ``lookup`` is the published table as text with columns ``IUCR``, ``PRIMARY DESCRIPTION``,
    ``SECONDARY DESCRIPTION`` (and optionally ``INDEX CODE``).
    """
    missing = [c for c in ("IUCR", *IUCR_COLUMNS) if c not in lookup.columns]
    if missing:
        raise InputError(where, f"column '{missing[0]}' is missing", "Use the published IUCR lookup with a header row")
    published = pd.DataFrame({
        "iucr": lookup["IUCR"].astype("str").str.strip().str.upper(),
        "primary_description": lookup["PRIMARY DESCRIPTION"].astype("str").str.strip(),
        "secondary_description": lookup["SECONDARY DESCRIPTION"].astype("str").str.strip(),
        "index_code": (lookup["INDEX CODE"].astype("str").str.strip() if "INDEX CODE" in lookup.columns
                       else pd.Series(pd.NA, index=lookup.index, dtype="str")),
        "is_supplementary": False,
    })
    known = set(normalize_iucr(published["iucr"]))
    extra = pd.DataFrame(
        [{"iucr": code, "primary_description": primary, "secondary_description": secondary, "index_code": None,
          "is_supplementary": True}
         for code, (primary, secondary) in SUPPLEMENTARY_IUCR.items()
         if normalize_iucr(pd.Series([code]))[0] not in known])
    out = pd.concat([published, extra], ignore_index=True)
    out["iucr"] = out["iucr"].str.zfill(4)
    out["iucr_normalized"] = normalize_iucr(out["iucr"])
    dupes = out["iucr_normalized"].duplicated(keep="first")
    if dupes.any():
        row = int(dupes.idxmax()) + 2  # header is line 1
        raise InputError(f"{where}:{row}", f"IUCR '{out.at[dupes.idxmax(), 'iucr']}' repeats an earlier code",
                         "Remove the duplicate row from the lookup")
    category = offense_category(out["iucr"])
    out["offense_category"] = category
    out["is_drug_offense"] = category != "non_drug"
    out["nibrs_code"] = nibrs_code(category).where(category != "non_drug")
    columns = [c.name for c in ref_iucr_codes.columns]
    return out[columns].sort_values("iucr", ignore_index=True)


def teds_reference(codes: pd.DataFrame) -> pd.DataFrame:
    """Return one row per (variable, code) of the TEDS-A codebook, ref_teds_codes columns.

    ``codes`` is ``schemas.teds_codes.load_teds_codes`` output (variable, value, label, frequency_2017).
    """
    out = pd.DataFrame({
        "variable": codes["variable"],
        "code": codes["value"].astype("int64"),
        "label": codes["label"],
        "is_missing": codes["value"] == MISSING_CODE,
        "frequency_2017": codes["frequency_2017"].astype("int64"),
    })
    return out.drop_duplicates(["variable", "code"], keep="first").sort_values(["variable", "code"], ignore_index=True)


def read_iucr_lookup(path: Path, code_column: str = "IUCR") -> pd.DataFrame:
    """Return the published IUCR lookup file as text, its code column renamed to ``IUCR``."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, "file not found", "Check the data directory setting (PULSE_DATA_DIR)")
    lookup = pd.read_csv(path, dtype="str", keep_default_na=False)
    if code_column not in lookup.columns:
        raise InputError(path, f"column '{code_column}' is missing", "Set code_table.column in the city config")
    return lookup.rename(columns={code_column: "IUCR"})


"""Writes of the health feeds' reference tables: each export's provisional window and the police
unit -> community area crosswalk (``warehouse.tables.ref_death_exports`` / ``dim_police_unit_crosswalk``)."""
from __future__ import annotations

from datetime import datetime

import pandas as pd
from sqlalchemy import func, select

from warehouse.load import replace_table
from warehouse.resource import Warehouse
from warehouse.tables import dim_police_unit_crosswalk, metadata, ref_death_exports


def record_death_export(wh: Warehouse, row: dict) -> dict:
    """Replace the ``ref_death_exports`` row of ``row['export_label']``, with the latest date of death
    that export holds (read from ``fct_medical_examiner_case_versions``); return the row written."""
    versions = metadata.tables["fct_medical_examiner_case_versions"]
    with wh.begin() as conn:
        last = conn.execute(select(func.max(versions.c.death_date))
                            .where(versions.c.export_label == row["export_label"])).scalar()
        out = {**row, "last_death_date": pd.Timestamp(last).date() if last is not None else None,
               "loaded_at": datetime.now().replace(microsecond=0)}
        conn.execute(ref_death_exports.delete().where(ref_death_exports.c.export_label == row["export_label"]))
        conn.execute(ref_death_exports.insert().values(**out))
    return out


def read_case_versions(wh: Warehouse) -> pd.DataFrame:
    """Return every stored case version: case_number, export_label, death_date, is_opioid_related, with
    each export's last death date (for ordering the exports). Stays in the pipeline (person-level table)."""
    v, ex = metadata.tables["fct_medical_examiner_case_versions"], ref_death_exports
    query = (select(v.c.case_number, v.c.export_label, v.c.death_date, v.c.is_opioid_related, ex.c.last_death_date)
             .join(ex, ex.c.export_label == v.c.export_label))
    with wh.connect() as conn:
        rows = conn.execute(query).all()
    frame = pd.DataFrame(rows, columns=["case_number", "export_label", "death_date", "is_opioid_related",
                                        "last_death_date"])
    frame["death_date"] = pd.to_datetime(frame["death_date"])
    frame["last_death_date"] = pd.to_datetime(frame["last_death_date"])
    return frame


def record_estimated_window(wh: Warehouse, export_label: str, months: int | None) -> None:
    """Store the provisional window estimated from ``export_label``'s revisions of an older export."""
    with wh.begin() as conn:
        conn.execute(ref_death_exports.update().where(ref_death_exports.c.export_label == export_label)
                     .values(estimated_provisional_months=months))


def replace_police_crosswalk(wh: Warehouse, rows: pd.DataFrame) -> int:
    """Replace the crosswalk table's contents (one transaction); return rows written."""
    cols = [c.name for c in dim_police_unit_crosswalk.columns]
    return replace_table(wh, dim_police_unit_crosswalk, rows[cols])

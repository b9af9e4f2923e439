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


def replace_police_crosswalk(wh: Warehouse, rows: pd.DataFrame) -> int:
    """Replace the crosswalk table's contents (one transaction); return rows written."""
    cols = [c.name for c in dim_police_unit_crosswalk.columns]
    return replace_table(wh, dim_police_unit_crosswalk, rows[cols])

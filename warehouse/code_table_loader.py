"""Write the code tables (``ref_iucr_codes``, ``ref_teds_codes``) from the shared data folder.

Run before every dbt build: the dbt project reads them as sources (``source('codes', ...)``).
Both frames are built before any table is written, so a bad file leaves every code table as it
was; each table is replaced in one transaction (``warehouse.load.replace_table``), so readers see
the old or the new contents, never a mix.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
from sqlalchemy import Engine

from schemas.teds_codes import load_teds_codes
from warehouse.code_tables import iucr_reference, read_iucr_lookup, teds_reference
from warehouse.tables import ref_iucr_codes, ref_teds_codes
from warehouse.load import replace_table


def load_code_tables(engine: Engine, data_dir: Path, iucr_file: Path | None, iucr_column: str = "IUCR") -> dict[str, int]:
    """Replace every code table from its file; return rows written per table.

    ``iucr_file`` is None for a city without an IUCR code table: ``ref_iucr_codes`` is then emptied.
    """
    frames = {ref_teds_codes: teds_reference(load_teds_codes(data_dir))}
    if iucr_file is None:
        frames[ref_iucr_codes] = pd.DataFrame(columns=[c.name for c in ref_iucr_codes.columns])
    else:
        frames[ref_iucr_codes] = iucr_reference(read_iucr_lookup(iucr_file, iucr_column), str(iucr_file))
    return {table.name: replace_table(engine, table, frame) for table, frame in frames.items()}

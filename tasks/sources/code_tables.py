"""Offense code tables a source config names (e.g. Chicago's IUCR lookup): the codes validation accepts."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from schemas.errors import ConfigError
from schemas.iucr_codes import known_iucr_codes


def read_offense_codes(path: Path, column: str = "IUCR") -> list[str]:
    """Return every known offense code of the table (normalized as ``known_iucr_codes`` does)."""
    lookup = pd.read_csv(path, dtype=str)
    if column not in lookup:
        raise ConfigError(path, f"column '{column}' not found (found {', '.join(lookup.columns[:6])})",
                          "Set code_table.column in the city config")
    return known_iucr_codes(lookup.rename(columns={column: "IUCR"}))

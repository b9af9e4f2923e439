"""Schema contracts as code: a canonical entity is a named tuple of typed columns and a grain.

The warehouse builds its SQLAlchemy tables from these, adapters cast to them, and tests check
frames against them, so a column is declared exactly once.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

# A canonical frame may carry this column: a non-null value sends the row to quarantine with that
# reason (set by an adapter's to_standard, or by a geocoder for rows it cannot place).
QUARANTINE_REASON = "quarantine_reason"

# Logical types -> pandas dtypes used for canonical frames.
PANDAS_DTYPES = {
    "string": "str",
    "int": "Int64",
    "float": "float64",
    "bool": "boolean",
    "date": "datetime64[us]",
    "timestamp": "datetime64[us]",
}


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # one of PANDAS_DTYPES
    nullable: bool = True
    doc: str = ""
    allowed: tuple | None = None  # accepted values, when the column is coded


@dataclass(frozen=True)
class EntitySchema:
    """A canonical entity: target table, grain, natural key and columns."""

    name: str
    table: str
    grain: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    person_level: bool = False  # analysts must not read it
    version_column: str | None = None  # a newer value replaces the stored row on merge
    extra: dict = field(default_factory=dict)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def empty_frame(self) -> pd.DataFrame:
        return pd.DataFrame({c.name: pd.Series(dtype=PANDAS_DTYPES[c.type]) for c in self.columns})

    def coerce(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Return the frame with exactly the schema's columns, in order, cast to their dtypes."""
        missing = [c for c in self.column_names if c not in frame.columns]
        if missing:
            raise KeyError(f"{self.name}: frame lacks canonical columns {missing}")
        out = {}
        for c in self.columns:
            s = frame[c.name]
            dtype = PANDAS_DTYPES[c.type]
            if str(s.dtype) != dtype:
                s = s.astype(dtype)
            out[c.name] = s
        return pd.DataFrame(out, index=frame.index)

    def check(self, frame: pd.DataFrame) -> list[str]:
        """Problems with a frame against the contract (empty list = conforms)."""
        problems = []
        if list(frame.columns) != self.column_names:
            problems.append(f"columns {list(frame.columns)} != {self.column_names}")
            return problems
        for c in self.columns:
            if str(frame[c.name].dtype) != PANDAS_DTYPES[c.type]:
                problems.append(f"{c.name}: dtype {frame[c.name].dtype} != {PANDAS_DTYPES[c.type]}")
            if not c.nullable and frame[c.name].isna().any():
                problems.append(f"{c.name}: has nulls")
            if c.allowed is not None:
                bad = set(frame[c.name].dropna().unique()) - set(c.allowed)
                if bad:
                    problems.append(f"{c.name}: values outside {c.allowed}: {sorted(map(str, bad))[:5]}")
        return problems

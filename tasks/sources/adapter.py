"""The one face every feed's adapter has: ``read_raw(location)`` and ``to_standard(batch)`` plus
declared metadata (slug, canonical schema, GX suite, sensitive raw columns, geocoder).

- ``read_raw(location)`` yields the source exactly as received as Arrow record batches of text
  (a file path, an API page, a folder of files): this is what the raw landing zone keeps. It
  raises ``InputError`` (one line: file, row or column, what to do) for unreadable input.
- ``to_standard(batch)`` takes one landed batch as a pandas frame of text (RangeIndex) and
  returns the canonical frame, one row per input row, same index: ``schema`` columns, plus any
  ``raw_<name>`` text columns the suite judges (kept out of the warehouse), plus an optional
  ``quarantine_reason`` column (non-null: the row goes to quarantine with that reason). It never
  drops a row and never mutates its input.
- ``geocoder`` names how rows get a neighborhood: ``points`` (lat/lon or projected x/y, with the
  source's area label as fallback), ``address`` (street address column ``address`` + ZIP, dropped
  after geocoding), ``area_name`` (the source's own area name matched to the boundary file), or
  None (no geography, e.g. state-level rows).

Adapters that need run-time values (a column mapping from the city config, a pseudonymization
key) are built by a factory in their module that returns an ``Adapter``; others define one
module-level ``ADAPTER``.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from schemas.base import QUARANTINE_REASON, EntitySchema  # noqa: F401 (part of the face)

GEOCODERS = ("points", "address", "area_name", None)


@dataclass(frozen=True)
class Adapter:
    """One feed's adapter: how to read it raw and how to map a raw batch to the canonical frame."""

    slug: str
    schema: EntitySchema
    suite: str  # expectations/<suite>.json
    read_raw: Callable[[Path], Iterator[pa.RecordBatch]]
    to_standard: Callable[[pd.DataFrame], pd.DataFrame]
    sensitive_columns: tuple[str, ...] = ()  # raw columns never copied into quarantine.raw_record
    geocoder: str | None = None
    suite_parameters: dict[str, Any] = field(default_factory=dict)  # values for the suite's $PARAMETERs

    def __post_init__(self) -> None:
        if self.geocoder not in GEOCODERS:
            raise ValueError(f"adapter {self.slug}: geocoder must be one of {GEOCODERS}, not {self.geocoder!r}")

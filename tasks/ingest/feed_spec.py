"""What the shared batch path needs to know about one feed, and the quarantine rows it writes."""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from schemas.base import QUARANTINE_REASON, EntitySchema
from tasks.ingest.validate import QUARANTINE_COLUMNS


@dataclass
class FeedSpec:
    """What the shared batch path needs to know about one feed."""

    source: str
    schema: EntitySchema
    suite_path: Path
    to_standard: Callable[[pd.DataFrame], pd.DataFrame]
    geocode: Callable[[pd.DataFrame], pd.DataFrame] | None
    suite_parameters: dict[str, Any] = field(default_factory=dict)
    # Raw columns never copied into quarantine.raw_record (person ids, street addresses).
    sensitive_raw_columns: tuple[str, ...] = ()
    # Feeds with one row per offense: the batch's valid rows -> incidents + child rows (``collapse``),
    # the child schema, the columns ``collapse`` needs beyond the schema's, and the incident columns
    # every batch refreshes (a later reversal row changes an incident loaded earlier).
    collapse: Callable[..., Any] | None = None
    child: EntitySchema | None = None
    carry_columns: tuple[str, ...] = ()
    refresh_columns: tuple[str, ...] = ()
    # What to change when the key repeats within a batch (the unique-key expectation failed).
    duplicate_key_advice: str | None = None
    # Feeds that keep what each export said (``child`` rows from the canonical rows, e.g. the
    # medical examiner's case versions): merged into ``child`` in the same transaction.
    history: Callable[[pd.DataFrame], pd.DataFrame] | None = None

    @property
    def unique_rows(self) -> bool:
        """True when each row must carry a unique key (false for offense rows collapsed into incidents)."""
        return self.collapse is None


GEOCODE_QUARANTINE = QUARANTINE_REASON  # the same column, named for where geocoders set it


def set_aside(frame: pd.DataFrame, spec: FeedSpec, expectation: str, column: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split off rows that carry a QUARANTINE_REASON; return (kept rows without the column, failures)."""
    if QUARANTINE_REASON not in frame:
        return frame, pd.DataFrame(columns=QUARANTINE_COLUMNS)
    bad = frame[QUARANTINE_REASON].notna()
    failures = pd.DataFrame({
        "row_index": frame.index[bad], "record_id": frame.loc[bad, spec.schema.key[0]].astype("str"),
        "expectation": expectation, "column_name": column, "value": None,
        "reason": frame.loc[bad, QUARANTINE_REASON].astype("str")})
    return frame.loc[~bad].drop(columns=[QUARANTINE_REASON]), failures


def quarantine_records(raw: pd.DataFrame, failures: pd.DataFrame, sensitive: tuple[str, ...] = ()) -> pd.DataFrame:
    """Return quarantine rows with the 1-based source row and the raw row as JSON.

    ``sensitive`` raw columns are left out of the JSON (the raw landing zone keeps them).
    """
    if failures.empty:
        return pd.DataFrame(columns=[*QUARANTINE_COLUMNS, "source_row", "raw_record"])
    out = failures.copy()
    out["row_index"] = out["row_index"].astype("int64")
    out["source_row"] = out["row_index"] + 1
    raw_rows = raw.drop(columns=[c for c in sensitive if c in raw.columns]).loc[out["row_index"].unique()]
    as_json = {idx: json.dumps({k: (None if pd.isna(v) else str(v)) for k, v in row.items()}, ensure_ascii=False)
               for idx, row in raw_rows.iterrows()}
    out["raw_record"] = out["row_index"].map(as_json).astype("str")
    for c in ("record_id", "expectation", "column_name", "value", "reason"):
        out[c] = out[c].astype("str")
    return out[["row_index", "source_row", "record_id", "expectation", "column_name", "value", "reason", "raw_record"]]

"""The per-batch path every feed shares: chunk -> standardize -> validate -> geocode -> stage,
then batch-level key checks and one merge transaction.

Feeds plug in through ``FeedSpec`` (their adapter's ``to_standard``, suite, schema and geocoder),
so this file holds no source branching.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
from sqlalchemy import Engine

from schemas.base import EntitySchema
from schemas.errors import ValidationFailed
from schemas.failpoints import failpoint
from tasks.ingest.validate import QUARANTINE_COLUMNS, validate_batch_keys, validate_frame
from warehouse.load import BatchInfo, merge_batch, write_stage


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


# An adapter (in to_standard) or a geocoder may set this column to send a row to quarantine with
# its reason (e.g. a row empty in every field; no parseable address and no ZIP).
QUARANTINE_REASON = "quarantine_reason"
GEOCODE_QUARANTINE = QUARANTINE_REASON


def _set_aside(frame: pd.DataFrame, spec: FeedSpec, expectation: str, column: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split off rows that carry a QUARANTINE_REASON; return (kept rows without the column, failures)."""
    if QUARANTINE_REASON not in frame:
        return frame, pd.DataFrame(columns=QUARANTINE_COLUMNS)
    bad = frame[QUARANTINE_REASON].notna()
    failures = pd.DataFrame({
        "row_index": frame.index[bad], "record_id": frame.loc[bad, spec.schema.key[0]].astype("str"),
        "expectation": expectation, "column_name": column, "value": None,
        "reason": frame.loc[bad, QUARANTINE_REASON].astype("str")})
    return frame.loc[~bad].drop(columns=[QUARANTINE_REASON]), failures


@dataclass
class ChunkResult:
    offset: int
    rows_read: int
    rows_valid: int
    rows_quarantined: int
    keys: pd.DataFrame
    validation: list[dict]
    critical_failures: list[str]
    geocode_precision: dict[str, int]
    data_file: Path | None
    quarantine_file: Path | None
    quarantine_reasons: dict[str, int] = field(default_factory=dict)


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


def process_chunk(raw: pd.DataFrame, offset: int, spec: FeedSpec, stage_dir: Path, where: str) -> ChunkResult:
    """Standardize, validate, geocode and stage one chunk of a landed batch."""
    std, rejected = _set_aside(spec.to_standard(raw), spec, "adapter", "row")
    outcome = validate_frame(std, spec.suite_path, spec.suite_parameters, id_column=spec.schema.key[0],
                             where=f"{where} rows {offset + 1}-{offset + len(raw)}")
    failpoint("validate.done")
    keys = std[list(spec.schema.key)]
    if outcome.critical_failures:
        return ChunkResult(offset, len(raw), 0, 0, keys, outcome.results, outcome.critical_failures, {}, None, None)
    valid = std if len(outcome.valid_index) == len(std) else std.loc[outcome.valid_index]
    parts = [rejected, outcome.quarantine]
    if spec.geocode is not None and len(valid):
        valid, ungeocodable = _set_aside(spec.geocode(valid), spec, "geocode", "address")
        parts.append(ungeocodable)
    failures = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) \
        else outcome.quarantine
    failpoint("geocode.done")
    canonical = spec.schema.coerce(valid)
    part = f"part-{offset:012d}"
    data_file = write_stage(stage_dir, part, canonical) if len(canonical) else None
    failpoint("stage.data_written")
    qrows = quarantine_records(raw, failures, spec.sensitive_raw_columns)
    qfile = write_stage(stage_dir, f"quarantine-{offset:012d}", qrows) if len(qrows) else None
    failpoint("stage.chunk_done")
    precision = ({str(k): int(v) for k, v in canonical["geocode_precision"].value_counts().items()}
                 if "geocode_precision" in canonical else {})
    n_quarantined = int(failures["row_index"].nunique()) if len(failures) else 0
    reasons = ({str(k): int(v) for k, v in failures.groupby("reason")["row_index"].nunique().items()}
               if len(failures) else {})
    pa.default_memory_pool().release_unused()  # keep peak memory bounded by one chunk
    return ChunkResult(offset, len(raw), len(canonical), n_quarantined, keys, outcome.results, [],
                       precision, data_file, qfile, reasons)


def merge_results(results: list[dict], new: list[dict]) -> list[dict]:
    """Add per-expectation counts of a chunk to the batch totals (same order)."""
    if not results:
        return [dict(r) for r in new]
    for total, r in zip(results, new):
        total["rows_checked"] += r["rows_checked"]
        total["failures"] += r["failures"]
        total["success"] = total["success"] and r["success"]
    return results


def finish_batch(engine: Engine, spec: FeedSpec, batch: BatchInfo, chunks: list[ChunkResult],
                 advance_watermark: str | None = None) -> dict[str, Any]:
    """Check batch-level expectations, then merge the staged chunks in one transaction."""
    critical = [m for c in chunks for m in c.critical_failures]
    keys = pd.concat([c.keys for c in chunks], ignore_index=True) if chunks else pd.DataFrame()
    key_check = validate_batch_keys(keys, spec.suite_path, where=batch.source_path or batch.batch_id)
    critical += key_check.critical_failures
    if critical:
        raise ValidationFailed(batch.source_path or batch.batch_id, critical[0].split(": ", 1)[-1],
                               "Nothing from this batch was loaded; fix the input and rerun")
    rows_q = sum(c.rows_quarantined for c in chunks)
    rows_valid = sum(c.rows_valid for c in chunks)
    if rows_valid + rows_q != batch.rows_read:
        raise RuntimeError(f"{batch.batch_id}: {batch.rows_read} rows read but {rows_valid} valid + {rows_q} "
                           "quarantined; refusing to load a batch that loses rows")
    failpoint("load.before_merge")
    counts = merge_batch(engine, spec.schema, batch, [c.data_file for c in chunks if c.data_file],
                         [c.quarantine_file for c in chunks if c.quarantine_file], rows_q,
                         validation_success=rows_q == 0, advance_watermark=advance_watermark)
    precision: dict[str, int] = {}
    reasons: dict[str, int] = {}
    for c in chunks:
        for k, v in c.geocode_precision.items():
            precision[k] = precision.get(k, 0) + v
        for k, v in c.quarantine_reasons.items():
            reasons[k] = reasons.get(k, 0) + v
    return {"batch_id": batch.batch_id, "source": batch.source, "origin": batch.source_path, "status": "loaded",
            "rows_read": batch.rows_read, **counts, "geocode_precision": precision, "quarantine_reasons": reasons,
            "validation": _batch_validation(chunks) + key_check.results}


def _batch_validation(chunks: list[ChunkResult]) -> list[dict]:
    totals: list[dict] = []
    for c in chunks:
        totals = merge_results(totals, c.validation)
    return totals

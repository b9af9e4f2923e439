"""The stages every landed batch goes through, each over the WHOLE batch: standardize -> validate ->
geocode -> stage for load, then one merge transaction.

Each stage is one Prefect task per batch (``tasks.ingest.prefect_tasks``), so the UI shows a batch's
path in order and Great Expectations' fixed cost is paid once per batch, not per chunk. Memory stays
bounded by the chunk size: standardize streams the landed Parquet in chunks into staged parts;
validation reads back only the columns the suite judges (one narrow frame for the whole batch);
the geocode stage streams the parts again, geocodes the valid rows (distinct points only) and
writes the canonical rows the merge copies into the warehouse. Staged files live in
``<work>/staging/<entity>/<batch_id>/`` (mode 0600: they may hold street addresses until the
geocoder drops them) and are removed after the load.

Rows leave a batch only to quarantine, with a reason: set aside by the adapter (``adapter``), by
a failed row-level expectation, or by the geocoder (``geocode``). ``rows_read = rows loaded +
rows quarantined`` is checked before anything is merged.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from schemas.errors import ValidationFailed
from schemas.failpoints import failpoint
from tasks.ingest.feed_spec import FeedSpec, quarantine_records, set_aside
from tasks.ingest.landing import LandedBatch, iter_landed
from tasks.ingest.validate import QUARANTINE_COLUMNS, columns_read, validate_batch
from warehouse.load import BatchInfo, merge_batch, read_rows
from warehouse.resource import Warehouse

ROW = "__row"  # staged column holding each row's position in the landed batch
QUARANTINE_FILE_COLUMNS = [*QUARANTINE_COLUMNS, "source_row", "raw_record"]


@dataclass
class Staged:
    """A standardized batch: canonical (+ raw_*) rows in parts, the adapter's rejects set aside."""

    batch: LandedBatch
    folder: Path
    parts: list[Path]
    columns: list[str]
    rejected: pd.DataFrame  # QUARANTINE_FILE_COLUMNS: rows the adapter set aside


@dataclass
class Checked:
    """A validated batch: the suite's results and the rows it sent to quarantine."""

    results: list[dict]
    quarantined: pd.DataFrame  # QUARANTINE_FILE_COLUMNS
    bad_rows: np.ndarray  # batch positions failing a row-level expectation


@dataclass
class Placed:
    """A batch ready to merge: canonical parts, every quarantine row, counts for the summary."""

    batch: LandedBatch
    folder: Path
    parts: list[Path]
    quarantine_part: Path | None
    rows_valid: int
    rows_quarantined: int
    results: list[dict]
    geocode_precision: dict[str, int] = field(default_factory=dict)
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    child_parts: list[Path] = field(default_factory=list)  # rows of the feed's child table (offense rows)


def write_part(folder: Path, name: str, frame: pd.DataFrame) -> Path:
    """Write a staged frame as uncompressed Parquet (temporary, private); returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.parquet"
    tmp = folder / f".{name}.tmp"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp, compression="none")
    os.chmod(tmp, 0o600)
    tmp.replace(path)
    return path


def standardize_batch(spec: FeedSpec, batch: LandedBatch, folder: Path, chunk_rows: int) -> Staged:
    """Return the batch standardized by the adapter, streamed in chunks of ``chunk_rows`` into parts."""
    parts, rejected, columns = [], [], []
    for offset, raw in iter_landed(batch, chunk_rows):
        std, failures = set_aside(spec.to_standard(raw), spec, "adapter", "row")
        if len(failures):
            rejected.append(quarantine_records(raw, failures, spec.sensitive_raw_columns))
        std = std.assign(**{ROW: std.index.to_numpy(dtype="int64")})
        columns = [c for c in std.columns if c != ROW]
        parts.append(write_part(folder, f"std-{offset:012d}", std))
        del raw, std
    pa.default_memory_pool().release_unused()  # keep peak memory bounded by one chunk
    return Staged(batch, folder, parts, columns, _concat(rejected))


def validate_staged(spec: FeedSpec, staged: Staged) -> Checked:
    """Run the feed's suite once over the whole batch (only the columns it reads); raise ValidationFailed
    when a critical expectation fails, else return the quarantined rows."""
    want = list(dict.fromkeys([*spec.schema.key, *columns_read(spec.suite_path)]))
    present = [c for c in want if c in staged.columns]
    frame = _read_parts(staged.parts, [*present, ROW])
    frame.index = pd.Index(frame.pop(ROW).to_numpy(), name=None)
    outcome = validate_batch(frame, spec.suite_path, spec.suite_parameters, id_column=spec.schema.key[0],
                             where=staged.batch.origin, table_columns=staged.columns, unique_rows=spec.unique_rows,
                             duplicate_advice=spec.duplicate_key_advice)
    if outcome.critical_failures:
        raise ValidationFailed(staged.batch.origin or staged.batch.batch_id, outcome.critical_failures[0].split(": ", 1)[-1],
                               "Nothing from this batch was loaded; fix the input and rerun")
    failpoint("validate.done")
    quarantined = _with_raw(staged.batch, outcome.quarantine, spec.sensitive_raw_columns)
    bad = np.sort(outcome.quarantine["row_index"].unique().astype("int64")) if len(outcome.quarantine) \
        else np.array([], dtype="int64")
    return Checked(outcome.results, quarantined, bad)


def geocode_batch(spec: FeedSpec, staged: Staged, checked: Checked) -> Placed:
    """Return the batch's valid rows geocoded and staged as canonical parts, with every quarantine row."""
    parts, ungeocodable, precision, rows_valid, history = [], [], {}, 0, []
    for i, path in enumerate(staged.parts):
        frame = pq.read_table(path).to_pandas()
        frame.index = pd.Index(frame.pop(ROW).to_numpy())
        valid = frame[~frame.index.isin(checked.bad_rows)]
        if spec.geocode is not None and len(valid):
            valid, failures = set_aside(spec.geocode(valid), spec, "geocode", "address")
            if len(failures):
                ungeocodable.append(_with_raw(staged.batch, failures, spec.sensitive_raw_columns))
        failpoint("geocode.done")
        canonical = spec.schema.coerce(valid)
        if spec.carry_columns:
            canonical = canonical.assign(**{c: valid[c] for c in spec.carry_columns})
        if len(canonical):
            parts.append(write_part(staged.folder, f"part-{i:06d}", canonical))
            if spec.history is not None:
                history.append(write_part(staged.folder, f"history-{i:06d}", spec.history(canonical)))
            rows_valid += len(canonical)
            if "geocode_precision" in canonical:
                for k, v in canonical["geocode_precision"].value_counts().items():
                    precision[str(k)] = precision.get(str(k), 0) + int(v)
        failpoint("stage.data_written")
        del frame, valid, canonical
    quarantine = _concat([staged.rejected, checked.quarantined, *ungeocodable])
    qpart = write_part(staged.folder, "quarantine", quarantine) if len(quarantine) else None
    failpoint("stage.chunk_done")
    reasons = ({str(k): int(v) for k, v in quarantine.groupby("reason")["row_index"].nunique().items()}
               if len(quarantine) else {})
    n_quarantined = int(quarantine["row_index"].nunique()) if len(quarantine) else 0
    return Placed(staged.batch, staged.folder, parts, qpart, rows_valid, n_quarantined, checked.results,
                  precision, reasons, child_parts=history)


def collapse_batch(wh: Warehouse, spec: FeedSpec, placed: Placed) -> Placed:
    """Return the batch with its offense rows collapsed into incidents (``spec.collapse``), the offense
    rows staged for the child table. Offense rows stored by earlier batches for the same incidents
    are read back so a reversal in this batch nets against them."""
    rows = _read_parts(placed.parts, [*spec.schema.column_names, *spec.carry_columns])
    stored = read_rows(wh, spec.child, "incident_id", rows["incident_id"].dropna().unique()) if len(rows) else None
    frames = spec.collapse(rows, stored_offenses=stored)
    for path in placed.parts:
        path.unlink()
    parts = [write_part(placed.folder, "incidents", frames.incidents)] if len(frames.incidents) else []
    child = [write_part(placed.folder, "offenses", frames.offenses)] if len(frames.offenses) else []
    return replace(placed, parts=parts, child_parts=child)


def load_placed(wh: Warehouse, spec: FeedSpec, placed: Placed, info: BatchInfo,
                advance_watermark: str | None = None) -> dict[str, Any]:
    """Merge a placed batch in one transaction (rows + quarantine + audit); return its summary."""
    if placed.rows_valid + placed.rows_quarantined != info.rows_read:
        raise RuntimeError(f"{info.batch_id}: {info.rows_read} rows read but {placed.rows_valid} valid + "
                           f"{placed.rows_quarantined} quarantined; refusing to load a batch that loses rows")
    failpoint("load.before_merge")
    children = [(spec.child, placed.child_parts)] if spec.child is not None else []
    counts = merge_batch(wh, spec.schema, info, placed.parts, [placed.quarantine_part] if placed.quarantine_part
                         else [], placed.rows_quarantined, validation_success=placed.rows_quarantined == 0,
                         advance_watermark=advance_watermark, children=children,
                         refresh_columns=spec.refresh_columns, rows_loaded=placed.rows_valid)
    return {"batch_id": info.batch_id, "source": info.source, "origin": info.source_path, "status": "loaded",
            "rows_read": info.rows_read, **counts, "geocode_precision": placed.geocode_precision,
            "quarantine_reasons": placed.quarantine_reasons, "validation": placed.results}


def batch_info(spec: FeedSpec, batch: LandedBatch, flow_run_id: str | None, started_at: datetime) -> BatchInfo:
    """Return the audit identity of a landed batch."""
    return BatchInfo(batch_id=batch.batch_id, source=batch.source, entity=spec.schema.name, rows_read=batch.rows,
                     sha256=batch.sha256, source_path=batch.origin, watermark=batch.watermark,
                     flow_run_id=flow_run_id, started_at=started_at)


# ---------------------------------------------------------------------------------- helpers (IO)

def _read_parts(parts: list[Path], columns: list[str]) -> pd.DataFrame:
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
    return pa.concat_tables([pq.read_table(p, columns=columns) for p in parts]).to_pandas()


def landed_rows(batch: LandedBatch, positions: np.ndarray) -> pd.DataFrame:
    """Return the raw landed rows at ``positions`` (index = position), reading only their row groups."""
    pf = pq.ParquetFile(batch.parquet_path)
    starts = np.cumsum([0] + [pf.metadata.row_group(g).num_rows for g in range(pf.num_row_groups)])
    positions = np.unique(positions.astype("int64"))
    groups = sorted(set(np.searchsorted(starts, positions, side="right") - 1))
    frames = []
    for g in groups:
        tab = pf.read_row_group(g)
        local = positions[(positions >= starts[g]) & (positions < starts[g + 1])] - starts[g]
        part = tab.take(pa.array(local)).to_pandas()
        part.index = pd.Index(local + starts[g])
        frames.append(part)
    return pd.concat(frames) if frames else pd.DataFrame()


def _with_raw(batch: LandedBatch, failures: pd.DataFrame, sensitive: tuple[str, ...]) -> pd.DataFrame:
    if failures.empty:
        return pd.DataFrame(columns=QUARANTINE_FILE_COLUMNS)
    raw = landed_rows(batch, failures["row_index"].to_numpy())
    return quarantine_records(raw, failures, sensitive)


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype="int64" if c in ("row_index", "source_row") else "str")
                             for c in QUARANTINE_FILE_COLUMNS})
    return pd.concat(frames, ignore_index=True)[QUARANTINE_FILE_COLUMNS]

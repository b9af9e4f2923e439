"""Raw landing zone: every extracted batch is written once, as Parquet plus a manifest,
before any transform. Landed files are never rewritten; reprocessing starts from here.

Layout: ``<raw_dir>/<slug>/<extract_date>/<batch_id>.parquet`` and ``<batch_id>.manifest.json``.
"""
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from schemas.errors import InputError
from schemas.failpoints import failpoint


@dataclass(frozen=True)
class LandedBatch:
    batch_id: str
    source: str
    origin: str  # file path or URL the rows came from
    sha256: str  # checksum of what the source returned (file bytes / page bodies)
    rows: int
    columns: list[str]
    parquet_path: str
    watermark: str | None
    extracted_at: str

    @property
    def manifest_path(self) -> Path:
        return Path(self.parquet_path).with_suffix(".manifest.json")


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    """Return the sha256 hex digest of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def find_landed(raw_dir: Path, source: str, sha256: str) -> LandedBatch | None:
    """Return the batch already landed for this source with this checksum, if any.

    A matching manifest whose ``parquet_path`` lies outside ``raw_dir`` is refused (InputError).
    """
    for manifest in sorted((raw_dir / source).glob("*/*.manifest.json")):
        try:
            data = json.loads(manifest.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if data.get("sha256") == sha256 and not Path(data.get("parquet_path", "")).resolve().is_relative_to(
                raw_dir.resolve()):
            raise InputError(manifest, f"parquet_path {data.get('parquet_path')!r} is outside the landing zone "
                             f"{raw_dir.resolve()}", "Delete this manifest (edited or copied from another work "
                             "dir) and rerun; the file is landed again")
        if data.get("sha256") == sha256 and Path(data.get("parquet_path", "")).exists():
            return LandedBatch(**data)
    return None


def land_batches(raw_dir: Path, source: str, origin: str, sha256: str, batches: Iterable[pa.RecordBatch],
                 watermark: str | None = None, extract_date: date | None = None) -> LandedBatch:
    """Write record batches once as an immutable Parquet file plus manifest; return the landed batch.

    If a batch with the same source and checksum was landed before, that one is returned and
    nothing is written.
    """
    existing = find_landed(raw_dir, source, sha256)
    if existing:
        return existing
    day = (extract_date or date.today()).isoformat()
    batch_id = f"{source}-{sha256[:16]}"
    folder = raw_dir / source / day
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"{batch_id}.parquet"
    tmp = folder / f".{batch_id}.parquet.tmp"
    rows = 0
    writer = None
    columns: list[str] = []
    try:
        for rb in batches:
            if writer is None:
                writer = pq.ParquetWriter(tmp, rb.schema, compression="zstd")
                columns = rb.schema.names
            writer.write_batch(rb)
            rows += rb.num_rows
    finally:
        if writer is not None:
            writer.close()
    # NOTE: Arrow's mimalloc pool keeps freed CSV blocks (~200 MB per year file) until asked.
    pa.default_memory_pool().release_unused()
    if writer is None:
        tmp.unlink(missing_ok=True)
        raise InputError(origin, "has a header but no data rows", "Check the export; nothing was loaded")
    failpoint("land.parquet_written")
    os.replace(tmp, final)
    os.chmod(final, 0o440)  # read-only; raw files may hold person ids: no world access
    failpoint("land.parquet_renamed")
    landed = LandedBatch(batch_id=batch_id, source=source, origin=str(origin), sha256=sha256, rows=rows,
                         columns=columns, parquet_path=str(final.resolve()), watermark=watermark,
                         extracted_at=datetime.now().isoformat(timespec="seconds"))
    mtmp = folder / f".{batch_id}.manifest.tmp"
    mtmp.write_text(json.dumps(asdict(landed), indent=2))
    os.replace(mtmp, landed.manifest_path)
    os.chmod(landed.manifest_path, 0o440)
    failpoint("land.manifest_written")
    return landed


def iter_landed(batch: LandedBatch, chunk_rows: int) -> Iterator[tuple[int, pd.DataFrame]]:
    """Yield ``(offset, frame)`` chunks of a landed batch; frame index = batch row position."""
    pf = pq.ParquetFile(batch.parquet_path)
    offset = 0
    for rb in pf.iter_batches(batch_size=chunk_rows):
        frame = rb.to_pandas()
        frame.index = pd.RangeIndex(offset, offset + len(frame))
        yield offset, frame
        offset += len(frame)


def read_landed_columns(batch: LandedBatch, columns: list[str]) -> pd.DataFrame:
    """Return selected raw columns of a whole landed batch (for batch-level checks)."""
    return pq.read_table(batch.parquet_path, columns=columns).to_pandas()

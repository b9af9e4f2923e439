"""Stream a CSV/CSV.gz file as Arrow record batches of strings, with one-line errors.

Every column is read as text so the raw landing keeps the source exactly; adapters cast later.
``detect_encoding`` picks a file's encoding among configured candidates (UTF-8, cp1252, ...) and
notes a UTF-8 BOM; the reader transcodes to UTF-8 while reading.
"""
from __future__ import annotations

import csv
import difflib
import gzip
import zlib
import codecs
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from schemas.errors import InputError


def _open_text_head(path: Path) -> bytes:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            return fh.readline()
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(path, f"cannot read the file ({exc})", "Re-download it; a .gz file may be truncated") from exc


BOM = codecs.BOM_UTF8
ENCODING_META, BOM_META, LAYOUT_META = b"pulse.encoding", b"pulse.bom", b"pulse.layout"


def batch_source_metadata(schema: pa.Schema) -> dict[str, str]:
    """Return what a reader recorded about its file, for the landing manifest.

    ``{"encoding": "cp1252+bom", "layout": "A (18 columns, no complaint number)"}``; keys are
    absent when the reader recorded nothing (e.g. the Chicago adapter's batches).
    """
    meta = schema.metadata or {}
    out = {}
    if ENCODING_META in meta:
        out["encoding"] = meta[ENCODING_META].decode() + ("+bom" if meta.get(BOM_META) == b"true" else "")
    if LAYOUT_META in meta:
        out["layout"] = meta[LAYOUT_META].decode()
    return out


@dataclass(frozen=True)
class FileEncoding:
    """A file's detected encoding: the codec that decodes every byte, and whether it starts with a UTF-8 BOM."""

    codec: str
    bom: bool = False

    @property
    def label(self) -> str:
        """What the landing manifest records, e.g. ``utf-8``, ``cp1252``, ``cp1252+bom``."""
        return self.codec + ("+bom" if self.bom else "")

    @property
    def metadata(self) -> dict[bytes, bytes]:
        return {ENCODING_META: self.codec.encode(), BOM_META: b"true" if self.bom else b"false"}


def _opener(path: Path):
    return gzip.open if path.suffix == ".gz" else open


def detect_encoding(path: Path, candidates: Sequence[str] = ("utf-8",), block: int = 1 << 20) -> FileEncoding:
    """Return the first candidate encoding that decodes the whole file (after a UTF-8 BOM, if any).

    With one candidate nothing is scanned (the CSV reader checks UTF-8 itself and names the bad
    row). NOTE: St. Louis 2017-01 starts with a UTF-8 BOM and also holds cp1252 bytes, so the
    BOM is taken off before each candidate is tried.
    """
    try:
        with _opener(path)(path, "rb") as fh:
            head = fh.read(len(BOM))
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(path, f"cannot read the file ({exc})", "Re-download it; a .gz file may be truncated") from exc
    bom = head == BOM
    if len(candidates) == 1:
        return FileEncoding(codecs.lookup(candidates[0]).name, bom)
    for name in candidates:
        decoder = codecs.getincrementaldecoder(name)(errors="strict")
        try:
            with _opener(path)(path, "rb") as fh:
                if bom:
                    fh.read(len(BOM))
                while chunk := fh.read(block):
                    decoder.decode(chunk)
                decoder.decode(b"", final=True)
            return FileEncoding(codecs.lookup(name).name, bom)
        except UnicodeDecodeError:
            continue
        except (OSError, EOFError, zlib.error) as exc:
            raise InputError(path, f"file is truncated or corrupt ({str(exc).splitlines()[0]})",
                             "Re-download or re-export the file") from None
    raise InputError(path, f"bytes that are not {' or '.join(candidates)}",
                     "Add the file's encoding to the source's `encodings` list, or re-save it as UTF-8")


def read_header(path: Path, encoding: str = "utf-8") -> list[str]:
    """Return the header fields of a CSV file (BOM stripped)."""
    if not path.exists():
        raise InputError(path, "file not found", "Check the data directory setting (PULSE_DATA_DIR)")
    if path.stat().st_size == 0:
        raise InputError(path, "file is empty (0 bytes)", "Re-export the file from the source")
    line = _open_text_head(path)
    if not line.strip():
        raise InputError(path, "file has no header line", "Re-export the file with a header row")
    try:
        text = line.removeprefix(BOM).decode(encoding)
    except UnicodeDecodeError as exc:
        raise InputError(path, f"row 1 (header): bytes are not UTF-8 at position {exc.start}",
                         "Re-save the file as UTF-8") from exc
    fields = next(csv.reader([text.rstrip("\r\n")]), [])
    return [f.strip() for f in fields]


def check_columns(path: Path, header: Sequence[str], required: Sequence[str]) -> None:
    """Raise one InputError naming the first missing column and the closest header found."""
    missing = [c for c in required if c not in header]
    if not missing:
        return
    col = missing[0]
    check_delimiter(path, header, required)
    close = difflib.get_close_matches(col, header, n=1, cutoff=0.6)
    hint = f"found '{close[0]}' instead; rename it to '{col}' or map it in the city config" if close else \
        "add the column or map it in the city config"
    more = f" (and {len(missing) - 1} more: {', '.join(missing[1:4])})" if len(missing) > 1 else ""
    raise InputError(path, f"column '{col}' is missing{more}", hint)


_DELIMITERS = {";": "semicolon", "\t": "tab", "|": "pipe"}


def check_delimiter(path: Path, header: Sequence[str], required: Sequence[str] = ()) -> None:
    """Raise one InputError naming the delimiter when the header is one field split by ';', tab or '|'."""
    delimiter = _other_delimiter(header, required)
    if delimiter:
        raise InputError(path, f"row 1 (header) is one field holding {delimiter}-separated names "
                               f"('{header[0][:60]}')",
                         "Re-export the file comma-separated (the pipeline reads CSV with ',' as the delimiter)")


def _other_delimiter(header: Sequence[str], required: Sequence[str]) -> str | None:
    """Return the name of the delimiter a one-field header is really split by (None when it is not)."""
    if len(header) != 1:
        return None
    for char, name in _DELIMITERS.items():
        names = [f.strip() for f in header[0].split(char)]
        if len(names) > 1 and (set(required) & set(names) or len(names) >= max(2, len(required) // 2)):
            return name
    return None


def _first_bad_utf8_line(path: Path) -> tuple[int, int]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                return lineno, exc.start
    return 0, 0


def iter_csv_batches(path: Path, block_size: int = 16 << 20, encoding: str = "utf-8") -> Iterator[pa.RecordBatch]:
    """Yield record batches (all columns as strings) of a CSV or CSV.gz file in ``encoding``."""
    header = read_header(path, encoding)
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise InputError(path, f"header repeats column(s) {dupes}", "Remove or rename the duplicate columns")
    read_opts = pacsv.ReadOptions(block_size=block_size, column_names=header, skip_rows=1,
                                  encoding="utf8" if codecs.lookup(encoding).name == "utf-8" else encoding)
    convert = pacsv.ConvertOptions(
        column_types={h: pa.string() for h in header}, strings_can_be_null=True, quoted_strings_can_be_null=True,
        null_values=[""],
    )
    parse = pacsv.ParseOptions(newlines_in_values=True)
    try:
        reader = pacsv.open_csv(path, read_options=read_opts, convert_options=convert, parse_options=parse)
        for batch in reader:
            yield batch
    except pa.ArrowInvalid as exc:
        msg = str(exc)
        if "UTF8" in msg or "utf8" in msg.lower():
            line, pos = _first_bad_utf8_line(path)
            raise InputError(f"{path}:{line}", f"row {line} has bytes that are not UTF-8 (byte {pos})",
                             "Re-save the file as UTF-8 (e.g. iconv -f cp1252 -t utf-8), or list its encoding in "
                             "the source's `encodings` (mapped sources)") from None
        if "Expected" in msg and "columns" in msg:
            raise InputError(path, f"a row has the wrong number of fields ({msg.splitlines()[0]})",
                             "Check the delimiter and quoting; the file must be comma-separated") from None
        raise InputError(path, f"cannot parse CSV ({msg.splitlines()[0]})", "Check the file format") from None
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(path, f"file is truncated or corrupt ({str(exc).splitlines()[0]})",
                         "Re-download or re-export the file") from None


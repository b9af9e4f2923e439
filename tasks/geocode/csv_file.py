"""Geocode any CSV of addresses offline (``pulse geocode``): the input's rows, in order, plus coordinates,
neighborhood and precision; cells a spreadsheet would run as formulas are neutralised (OWASP CSV injection).
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from schemas.errors import InputError

# Columns ``pulse geocode`` adds to the input CSV (in this order).
GEOCODE_OUTPUT_COLUMNS = ["latitude", "longitude", "neighborhood_id", "neighborhood_name", "geocode_method",
                          "geocode_precision", "match_score"]


def _csv_chunks(path: Path, chunk_rows: int) -> Iterator[pd.DataFrame]:
    try:
        reader = pd.read_csv(path, dtype="str", keep_default_na=False, na_values=[""], encoding="utf-8-sig",
                             chunksize=chunk_rows)
        for chunk in reader:
            yield chunk
    except UnicodeDecodeError as exc:
        raise InputError(path, f"bytes are not UTF-8 (byte {exc.start} of a block)",
                         "Re-save the file as UTF-8 (e.g. iconv -f cp1252 -t utf-8)") from None
    except pd.errors.ParserError as exc:
        raise InputError(path, f"cannot parse CSV ({str(exc).splitlines()[0]})",
                         "Check the delimiter and quoting; the file must be comma-separated") from None


_FORMULA = r"^(?:[=+@\t\r]|-(?!\d+(?:\.\d+)?$))"


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Return text cells that a spreadsheet would run as a formula prefixed with ``'`` (OWASP CSV injection)."""
    out = frame.copy()
    for col in out.columns:
        if pd.api.types.is_string_dtype(out[col]):
            text = out[col]
            live = text.str.contains(_FORMULA, regex=True, na=False)
            if live.any():
                out[col] = text.where(~live, "'" + text)
    return out


def geocode_csv(src: Path, dest: Path, geocoder, address_col: str, zip_col: str | None = None,
                chunk_rows: int = 50_000) -> pd.Series:
    """Write ``src`` plus GEOCODE_OUTPUT_COLUMNS to ``dest`` (same rows, same order); return the
    row count per ``geocode_method``. Addresses are geocoded once per run (in-memory cache)."""
    from tasks.sources.csv_reader import check_columns, read_header

    src, dest = Path(src), Path(dest)
    check_columns(src, read_header(src), [c for c in (address_col, zip_col) if c])
    if src.resolve() == dest.resolve():
        raise InputError(dest, "is the input file", "Write the output to another path")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp")
    counts, cache, rows = pd.Series(dtype="int64"), None, 0
    try:
        for chunk in _csv_chunks(src, chunk_rows):
            located = geocoder.geocode(chunk, address_col, zip_col, cache=cache)
            new = geocoder.new_cache_rows
            cache = new if cache is None else pd.concat([cache, new], ignore_index=True)
            out = chunk.drop(columns=[c for c in GEOCODE_OUTPUT_COLUMNS if c in chunk.columns])
            out = pd.concat([neutralise_formulas(out), located[GEOCODE_OUTPUT_COLUMNS]], axis=1)
            out.to_csv(tmp, mode="w" if rows == 0 else "a", header=rows == 0, index=False)
            counts = counts.add(located["geocode_method"].value_counts(), fill_value=0)
            rows += len(chunk)
        if rows == 0:
            raise InputError(src, "file has a header but no data rows", "Use a CSV with addresses to geocode")
        tmp.replace(dest)
    finally:
        tmp.unlink(missing_ok=True)
    return counts.astype("int64").sort_values(ascending=False)

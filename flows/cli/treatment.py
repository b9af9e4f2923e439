"""``pulse`` commands for the treatment feeds and the address geocoder.

``register(app)`` adds ``pulse demo-data treatment``, ``pulse ingest treatment|teds|facilities``
and ``pulse geocode``. Heavy imports (Prefect flows, geopandas) happen inside the commands so
``pulse --help`` stays fast.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Optional

import pandas as pd
import typer

from flows.settings import Settings
from schemas.errors import InputError, PulseError

# Columns ``pulse geocode`` adds to the input CSV (in this order).
GEOCODE_OUTPUT_COLUMNS = ["latitude", "longitude", "neighborhood_id", "neighborhood_name", "geocode_method",
                          "geocode_precision", "match_score"]




def _fail(exc: PulseError) -> None:
    from flows.cli.console import fail

    fail(str(exc))


# -- pulse geocode ---------------------------------------------------------------------------

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


# -- commands --------------------------------------------------------------------------------

def demo_treatment(rows: Optional[int] = typer.Option(None, "--rows", min=1, help="Admissions to generate "
                                                      "(default: [sources.treatment_demo] rows)."),
                   seed: Optional[int] = typer.Option(None, "--seed", help="Random seed (same seed, same file)."),
                   output: Optional[Path] = typer.Option(None, "-o", "--output", help="CSV to write (default: "
                                                         "<work dir>/demo/treatment_admissions.csv).")):
    """Write a SYNTHETIC treatment-admissions export (TEDS-A coded, with known defects)."""
    from flows.cli.console import console
    from flows.city_inputs import source_config
    from flows.treatment import DEMO_SOURCE, demo_export_path
    from tasks.sources.catalog import TreatmentProviderConfig
    from tasks.synthetic.treatment import write_demo_admissions

    settings = Settings()
    try:
        cfg = source_config(settings, DEMO_SOURCE, TreatmentProviderConfig)
        path = write_demo_admissions(output or demo_export_path(settings), settings.data_dir, n=rows or cfg.rows,
                                     seed=seed if seed is not None else cfg.seed, defect_rate=cfg.defect_rate)
    except PulseError as exc:
        _fail(exc)
    console.print(f"Wrote SYNTHETIC admissions to [bold]{path}[/] (defects listed in "
                  f"{path.with_suffix('')}.defects.csv). No row describes a real person.", highlight=False)


def ingest_treatment(file: Optional[Path] = typer.Option(None, help="A provider export (default: the synthetic "
                                                         "demo export, generated when absent).")):
    """Load treatment admissions (client ids pseudonymized, residences geocoded)."""
    from flows.cli.console import print_batches, run_flow
    from flows.treatment import treatment_flow

    settings = Settings()
    print_batches(run_flow(treatment_flow, settings=settings, file=str(file) if file else None), settings)


def ingest_teds(file: Optional[list[Path]] = typer.Option(None, help="TEDS-A CSV files instead of the configured ones.")):
    """Load TEDS-A public-use rows (state level)."""
    from flows.cli.console import print_batches, run_flow
    from flows.treatment import teds_flow

    settings = Settings()
    print_batches(run_flow(teds_flow, settings=settings, files=[str(f) for f in file] if file else None), settings)


def ingest_facilities():
    """Load the treatment facility listings with their neighborhoods."""
    from flows.cli.console import print_batches, run_flow
    from flows.treatment import facilities_flow

    settings = Settings()
    print_batches(run_flow(facilities_flow, settings=settings), settings)


def geocode(input_csv: Path = typer.Argument(..., metavar="INPUT.csv", help="CSV with an address column."),
            address_column: str = typer.Option(..., "--address-column", help="Column holding the street address."),
            zip_column: Optional[str] = typer.Option(None, "--zip-column", help="Column holding the ZIP (fallback)."),
            output: Path = typer.Option(..., "-o", "--output", help="CSV to write.")):
    """Geocode any CSV of Chicago addresses offline: adds coordinates, neighborhood and precision."""
    from flows.cli.console import console
    from flows.treatment import city_address_geocoder

    settings = Settings()
    try:
        counts = geocode_csv(input_csv, output, city_address_geocoder(settings), address_column, zip_column,
                             chunk_rows=min(settings.chunk_rows, 50_000))
    except PulseError as exc:
        _fail(exc)
    summary = ", ".join(f"{k} {v:,}" for k, v in counts.items())
    console.print(f"Wrote {int(counts.sum()):,} rows to [bold]{output}[/] ({summary})", highlight=False)

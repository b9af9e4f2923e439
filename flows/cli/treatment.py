"""``pulse`` commands for the treatment feeds and the address geocoder.

``register(app)`` adds ``pulse demo-data treatment``, ``pulse ingest treatment|teds|facilities``
and ``pulse geocode``. Heavy imports (Prefect flows, geopandas) happen inside the commands so
``pulse --help`` stays fast.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from flows.settings import Settings
from schemas.errors import PulseError


def _fail(exc: PulseError) -> None:
    from flows.cli.console import fail

    fail(str(exc))


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
    from tasks.geocode.csv_file import geocode_csv

    settings = Settings()
    try:
        counts = geocode_csv(input_csv, output, city_address_geocoder(settings), address_column, zip_column,
                             chunk_rows=min(settings.chunk_rows, 50_000))
    except PulseError as exc:
        _fail(exc)
    summary = ", ".join(f"{k} {v:,}" for k, v in counts.items())
    console.print(f"Wrote {int(counts.sum()):,} rows to [bold]{output}[/] ({summary})", highlight=False)

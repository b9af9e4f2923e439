"""``pulse demo-data programs`` and ``pulse ingest programs``: registered on the main CLI app."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def demo_programs(seed: Optional[int] = typer.Option(None, help="Random seed (default: the city config's)."),
                  out: Optional[Path] = typer.Option(None, "--out", "-o", help="Output folder "
                                                     "(default: <work_dir>/demo/programs).")):
    """Generate synthetic drug-response programs, sessions and sign-in rosters (seeded)."""
    from flows.cli.console import console
    from flows.programs import demo_folder, generate_demo
    from flows.settings import Settings

    settings = Settings()
    folder = out or demo_folder(settings)
    feed = generate_demo(settings, folder, seed)
    console.print(f"Wrote {len(feed.programs)} programs, {len(feed.sessions):,} sessions (with "
                  f"{int(feed.defects['n_rows'].sum())} planted defects) and {len(feed.roster):,} sign-ins "
                  f"to {folder} (SYNTHETIC)")

def ingest_programs(library: bool = typer.Option(False, "--library", help="Load only the CPL library visits."),
                    demo: bool = typer.Option(False, "--demo", help="Load only the synthetic programs "
                                              "(generated first when absent).")):
    """Load program attendance: library visits (real) and the synthetic programs; both by default."""
    from flows.cli.console import print_batches, run_flow
    from flows.programs import demo_programs_flow, library_programs_flow
    from flows.settings import Settings

    settings = Settings()
    both = not library and not demo
    summaries = []
    if library or both:
        summaries += run_flow(library_programs_flow, settings=settings)
    if demo or both:
        summaries += run_flow(demo_programs_flow, settings=settings)
    print_batches(summaries, settings)

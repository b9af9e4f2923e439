"""``pulse demo-data arrests`` and ``pulse ingest arrests``: registered on the main CLI app."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def demo_arrests(seed: Optional[int] = typer.Option(None, help="Random seed (default: [sources.arrests_demo] seed)."),
                 out: Optional[Path] = typer.Option(None, "--out", "-o", help="Output folder "
                                                    "(default: <work_dir>/demo/outcomes).")):
    """Write the SYNTHETIC arrests export (planted program effect), linked admissions and discharges.

    Needs the police incidents and the demo programs loaded (``pulse ingest police``, ``pulse
    ingest programs --demo``) and the demo admissions written (``pulse demo-data treatment``).
    """
    from flows.cli.console import console, fail
    from flows.outcomes import generate_demo_outcomes
    from flows.settings import Settings
    from schemas.errors import PulseError

    try:
        line = generate_demo_outcomes.fn(Settings(), seed=seed, out_dir=out)
    except PulseError as exc:
        fail(str(exc))
    console.print(f"Wrote {line}", highlight=False)


def ingest_arrests(file: Optional[Path] = typer.Option(None, "--file", help="A real arrests export (needs "
                                                      "PULSE_PSEUDONYM_KEY); default: the demo export.")):
    """Load a person-level arrests export (the SYNTHETIC demo export is generated when absent)."""
    from flows.cli.console import print_batches, run_flow
    from flows.outcomes import arrests_flow
    from flows.settings import Settings

    settings = Settings()
    print_batches(run_flow(arrests_flow, settings=settings, file=str(file) if file else None), settings)

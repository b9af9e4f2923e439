"""``pulse config check`` and ``pulse config keys``: a city config checked against the data, and its key reference."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from flows.cli.console import console, fail
from flows.settings import Settings
from schemas.errors import PulseError


def check(city_config: Optional[Path] = typer.Option(None, "--city-config", help="The city TOML to check "
                                                     "(default: PULSE_CITY_CONFIG, config/chicago.toml).")):
    """Parse a city config and check it against the data dir (files, boundary fields, mapped columns; headers only)."""
    from tasks.sources.config_check import check_city_config

    settings = Settings(city_config=city_config) if city_config else Settings()
    try:
        lines = check_city_config(settings.city, settings.data_dir)
    except PulseError as exc:
        fail(str(exc), code=1)
    for line in lines:
        style = "green" if line.ok else "bold red"
        console.print(f"[{style}]{'ok' if line.ok else 'problem'}[/]  ", end="", highlight=False)
        console.print(f"{line.where} {line.text}", markup=False, highlight=False, soft_wrap=True)
    problems = sum(not line.ok for line in lines)
    if problems:
        console.print(f"{settings.city_config}: {problems} problem(s)", markup=False, highlight=False)
        raise typer.Exit(1)
    console.print(f"{settings.city_config}: ok (data dir {settings.data_dir})", markup=False, highlight=False)


def keys(markdown: bool = typer.Option(False, "--markdown", help="Print docs/configuration.md instead of text.")):
    """Print every city-config key with its type, default and description (from the typed config models)."""
    from schemas.config_reference import config_keys, reference_markdown, reference_text
    from tasks.sources.catalog import SOURCE_MODELS

    rows = config_keys(SOURCE_MODELS)
    text = reference_markdown(rows, SOURCE_MODELS) if markdown else reference_text(rows)
    typer.echo(text, nl=False)

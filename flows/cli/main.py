"""``pulse``: the whole command tree, assembled in one place from the command modules."""
from __future__ import annotations

import sys

import typer
from rich.markup import escape

from flows.cli import config, ops, outcomes, pipeline, programs, treatment, warehouse
from flows.cli.console import err
from schemas.errors import PulseError

app = typer.Typer(help="community-pulse: drug-offense, treatment and program data to a neighborhood warehouse.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
ingest_app = typer.Typer(help="Load one feed.", no_args_is_help=True)
demo_app = typer.Typer(help="Write synthetic (SYNTHETIC = Y) input files for demos and tests.", no_args_is_help=True)
models_app = typer.Typer(help="Warehouse SQL models.", no_args_is_help=True)
warehouse_app = typer.Typer(help="Create, upgrade and lock down the warehouse.", no_args_is_help=True)
config_app = typer.Typer(help="Check a city config against the data; list every config key.", no_args_is_help=True)

app.command("run")(pipeline.run_all)
app.command("nightly")(ops.nightly)
app.command("backfill")(ops.backfill)
app.command("serve")(ops.serve)
app.command("trends")(pipeline.trends)
app.command("report")(pipeline.report)
app.command("geocode")(treatment.geocode)

ingest_app.command("police")(pipeline.ingest_police)
ingest_app.command("treatment")(treatment.ingest_treatment)
ingest_app.command("teds")(treatment.ingest_teds)
ingest_app.command("facilities")(treatment.ingest_facilities)
ingest_app.command("programs")(programs.ingest_programs)
demo_app.command("treatment")(treatment.demo_treatment)
demo_app.command("programs")(programs.demo_programs)
demo_app.command("arrests")(outcomes.demo_arrests)
ingest_app.command("arrests")(outcomes.ingest_arrests)
models_app.command("build")(pipeline.models_build)
warehouse_app.command("init")(warehouse.init)
warehouse_app.command("upgrade")(warehouse.upgrade)
warehouse_app.command("roles")(warehouse.roles)
warehouse_app.command("revision")(warehouse.revision)
config_app.command("check")(config.check)
config_app.command("keys")(config.keys)

app.add_typer(ingest_app, name="ingest")
app.add_typer(demo_app, name="demo-data")
app.add_typer(models_app, name="models")
app.add_typer(warehouse_app, name="warehouse")
app.add_typer(config_app, name="config")


def main() -> None:  # pragma: no cover
    try:
        app()
    except PulseError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(2)


if __name__ == "__main__":  # pragma: no cover
    main()

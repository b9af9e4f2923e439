"""The ``pulse`` executable: provide a Prefect API for commands that run flows, then run the CLI.

Kept free of Prefect imports: ``flows.cli.local_server`` must set ``PREFECT_API_URL`` before
Prefect is imported, and ``pulse --help`` or ``pulse config check`` should not pay for a server.
"""
from __future__ import annotations

import os
import sys

# Commands (first argument) that run Prefect flows and so need an API.
FLOW_COMMANDS = {"run", "nightly", "backfill", "ingest", "models", "trends", "report"}


def needs_api(argv: list[str]) -> bool:
    args = [a for a in argv if not a.startswith("-")]
    return bool(args) and args[0] in FLOW_COMMANDS and "--help" not in argv and not os.environ.get("PREFECT_API_URL")


def main() -> None:
    if needs_api(sys.argv[1:]):
        from flows.cli.local_server import start_private_server

        start_private_server()
    from flows.cli.main import main as run_cli

    run_cli()


if __name__ == "__main__":  # python -m flows.cli.entry ...
    main()

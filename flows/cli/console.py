"""What every ``pulse`` command shares: the consoles, one-line failures, running a flow, the batch table."""
from __future__ import annotations

import logging
from pathlib import Path

import typer
from prefect import Flow
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from flows.settings import Settings
from schemas.errors import PulseError

console = Console(width=max(Console().width, 150))
err = Console(stderr=True)

EXAMPLE_QUERY = """SELECT n.name, date_trunc('month', i.occurred_at) AS month, count(*) AS drug_incidents
FROM fct_incidents i JOIN dim_neighborhoods n USING (neighborhood_id)
WHERE i.is_drug_offense
GROUP BY ALL ORDER BY month, drug_incidents DESC
LIMIT 20;"""


def fail(message: str, code: int = 2) -> None:
    # escape: a message naming a table, e.g. "[sources.police_x]", is text, not rich markup.
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


class _HideUserErrorTracebacks(logging.Filter):
    """A PulseError already says what is wrong and what to do: log it without a traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], PulseError):
            record.exc_info = None
            record.exc_text = None
        return True


def run_flow(fn, **kwargs):
    """Run a flow and return its result; a failure becomes one clear line, not a traceback."""
    for name in ("prefect.flow_runs", "prefect.task_runs"):
        logging.getLogger(name).addFilter(_HideUserErrorTracebacks())
    if not isinstance(fn, Flow):  # a plain function that runs flows itself
        try:
            return fn(**kwargs)
        except PulseError as exc:
            fail(str(exc))
    state = fn(return_state=True, **kwargs)
    if state.is_failed() or state.is_crashed():
        try:
            state.result()
        except PulseError as exc:
            fail(str(exc))
        except Exception as exc:  # noqa: BLE001 - surfaced as one line; details are in the Prefect logs
            fail(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''} (see the run's logs in the Prefect UI)")
    return state.result()


def print_batches(summaries: list[dict], settings: Settings) -> None:
    table = Table(title="Batches", show_lines=False)
    for col in ("batch", "table", "status", "read", "loaded", "new", "updated", "quarantined", "geocode precision"):
        table.add_column(col, justify="right" if col in ("read", "loaded", "new", "updated", "quarantined") else "left")
    for s in summaries:
        table.add_row(Path(s.get("origin") or s["batch_id"]).name, s.get("table", ""), s["status"],
                      f"{s.get('rows_read', 0):,}",
                      f"{s.get('rows_loaded', 0):,}", f"{s.get('rows_inserted', 0):,}", f"{s.get('rows_updated', 0):,}",
                      f"{s.get('rows_quarantined', 0):,}",
                      ", ".join(f"{k} {v:,}" for k, v in sorted(s.get("geocode_precision", {}).items())))
    console.print(table)

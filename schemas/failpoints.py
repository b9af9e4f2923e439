"""Failpoints for crash-safety tests: ``failpoint(name)`` kills the process when asked to.

A failpoint is a named place in the pipeline where a crash would be most awkward (a file half
written, a transaction half applied). When the environment variable ``PULSE_FAILPOINT`` equals
the name, the process sends itself SIGKILL there: no ``finally`` blocks, no rollback, no flushing,
exactly like a power cut or the OOM killer. Otherwise it does nothing (one dict lookup).

It never changes behaviour in any other way; it is not a feature flag. Tests set the variable
in a subprocess and then check that the warehouse holds the state before or after the batch.

Names are ``<stage>.<moment>``; ``FAILPOINTS`` lists every one placed in the code.
"""
from __future__ import annotations

import os
import signal

ENV_VAR = "PULSE_FAILPOINT"

FAILPOINTS = (
    "extract.api_page_landed",       # tasks/ingest/police_feed.py: a page landed, later pages not fetched
    "land.parquet_written",          # tasks/ingest/landing.py: temp Parquet written, not yet renamed
    "land.parquet_renamed",          # tasks/ingest/landing.py: Parquet in place, manifest not yet written
    "land.manifest_written",         # tasks/ingest/landing.py: batch fully landed
    "validate.done",                 # tasks/ingest/stages.py: batch validated, not geocoded
    "geocode.done",                  # tasks/ingest/stages.py: a staged part geocoded, its rows not staged for load
    "stage.data_written",            # tasks/ingest/stages.py: a part's rows staged for load, quarantine not yet
    "stage.chunk_done",              # tasks/ingest/stages.py: batch fully staged for load
    "load.before_merge",             # tasks/ingest/stages.py: batch checks passed, transaction not begun
    "load.tx_staged",                # warehouse/load.py: in the transaction, rows copied to the temp table
    "load.tx_deleted",               # warehouse/load.py: in the transaction, older versions deleted
    "load.tx_inserted",              # warehouse/load.py: in the transaction, new rows inserted
    "load.tx_quarantined",           # warehouse/load.py: in the transaction, quarantine rows appended
    "load.tx_before_commit",         # warehouse/load.py: audit row written, COMMIT not yet sent
    "load.committed",                # warehouse/load.py: committed, stage not yet cleared
)


def failpoint(name: str) -> None:
    """Kill this process with SIGKILL when ``PULSE_FAILPOINT == name``; otherwise return at once."""
    if os.environ.get(ENV_VAR) == name:
        os.kill(os.getpid(), signal.SIGKILL)

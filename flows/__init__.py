"""Prefect flows and the ``pulse`` CLI."""
import os as _os

# Offline-friendly defaults for the libraries (set before they are imported); a real
# deployment can still override each of them in its environment.
for _k, _v in {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "GX_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    "PREFECT_LOGGING_LOG_PRINTS": "false",
}.items():
    _os.environ.setdefault(_k, _v)

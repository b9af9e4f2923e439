"""Secrets a flow needs, resolved once per run from Settings (never logged)."""
from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from flows.settings import Settings
from schemas.errors import ConfigError
from tasks.ingest.pseudonymize import check_key

KEY_FILE = ".pseudonym_key"


def _read_key_file(path: Path) -> bytes:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ConfigError(path, f"the pseudonymization key file is readable by others (mode {mode:o})",
                          f"Run chmod 600 {path}")
    return path.read_bytes().strip()


def pseudonym_key(settings: Settings) -> bytes:
    """Return the HMAC key for person-id pseudonyms: ``Settings.pseudonym_key`` or the work-dir key file.

    Without ``PULSE_PSEUDONYM_KEY`` the key lives in ``<work_dir>/.pseudonym_key``, created once
    (64 random hex characters, mode 0600) and reused, so pseudonyms stay stable across runs.
    Losing that file breaks linkage with earlier loads; keep it with the warehouse backups.
    """
    if settings.pseudonym_key is not None:
        key = settings.pseudonym_key.get_secret_value().encode("utf-8")
        check_key(key)
        return key
    path = settings.work_dir / KEY_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: two runs starting together cannot both create (and disagree on) the key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = _read_key_file(path)
    else:
        key = secrets.token_hex(32).encode("ascii")
        with os.fdopen(fd, "wb") as fh:
            fh.write(key + b"\n")
    check_key(key)
    return key

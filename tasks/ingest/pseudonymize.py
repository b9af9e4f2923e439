"""Keyed pseudonyms for person identifiers (HMAC-SHA256, hex).

A keyed HMAC rather than a plain hash: client ids are short and guessable, so an unkeyed
hash could be reversed by hashing every possible id. The same key gives the same pseudonym
across batches (repeat clients stay linkable); without the key nobody can recompute it.
The key is never logged or put into an error message.
"""
from __future__ import annotations

import hashlib
import hmac

import pandas as pd

from schemas.errors import ConfigError

# RFC 2104 section 3: keys shorter than the hash output (32 bytes for SHA-256) weaken the HMAC.
MIN_KEY_BYTES = 32


def check_key(key: bytes) -> None:
    """Raise ConfigError unless ``key`` is bytes of at least MIN_KEY_BYTES."""
    if not isinstance(key, (bytes, bytearray)):
        raise TypeError("pseudonymization key must be bytes (e.g. SecretStr.get_secret_value().encode())")
    if len(key) < MIN_KEY_BYTES:
        problem = "is empty" if not key else f"is too short ({len(key)} bytes, need at least {MIN_KEY_BYTES})"
        raise ConfigError(
            "PULSE_PSEUDONYM_KEY",
            f"the pseudonymization key {problem}",
            'Set it to a random secret, e.g. python -c "import secrets; print(secrets.token_hex(32))"',
        )


def pseudonymize(series: pd.Series, key: bytes) -> pd.Series:
    """Return the HMAC-SHA256 hex digest of each value (same index; nulls stay null).

    Values are stripped of surrounding whitespace before hashing, so ``"C123 "`` and ``"C123"``
    (a common export artefact) are the same client.
    """
    check_key(key)
    if pd.api.types.is_float_dtype(series.dtype):
        raise TypeError("ids must be text: a float column has lost leading zeros or digits; read ids as str")
    text = series.astype("str").str.strip()
    text = text.mask(text == "")
    uniques = text.dropna().unique()
    digests = {v: hmac.new(bytes(key), v.encode("utf-8"), hashlib.sha256).hexdigest() for v in uniques}
    return text.map(digests).astype("str").rename(series.name)

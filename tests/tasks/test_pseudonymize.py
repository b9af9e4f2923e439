from __future__ import annotations

import hashlib
import hmac

import pandas as pd
import pytest

from schemas.errors import ConfigError
from tasks.ingest.pseudonymize import MIN_KEY_BYTES, pseudonymize

KEY = bytes(range(32))


def test_rfc4231_known_vector():
    # RFC 4231 test case 6: 131-byte key, HMAC-SHA256.
    key = b"\xaa" * 131
    data = "Test Using Larger Than Block-Size Key - Hash Key First"
    out = pseudonymize(pd.Series([data]), key)
    assert out.iat[0] == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"


def test_matches_hmac_module_and_keeps_index_and_nulls():
    ids = pd.Series(["C0000001", None, " C0000001 ", "", "C0000002"], index=[10, 11, 12, 13, 14], name="CLIENT_ID")
    out = pseudonymize(ids, KEY)
    expected = hmac.new(KEY, b"C0000001", hashlib.sha256).hexdigest()
    assert list(out.index) == [10, 11, 12, 13, 14]
    assert out[10] == expected
    assert out[12] == expected  # surrounding whitespace is an export artefact, same client
    assert out[[11, 13]].isna().all()
    assert out[14] != expected
    assert str(out.dtype) == "str"
    assert "C0000001" not in set(out.dropna())


def test_key_changes_every_pseudonym():
    ids = pd.Series(["C1", "C2"])
    assert not (pseudonymize(ids, KEY) == pseudonymize(ids, bytes(reversed(KEY)))).any()


@pytest.mark.parametrize(
    "key",
    [b"", b"short-secret", b"x" * (MIN_KEY_BYTES - 1)],
    ids=["empty", "12-bytes", "one-byte-short"],
)
def test_refuses_empty_or_short_key_without_echoing_it(key):
    with pytest.raises(ConfigError) as err:
        pseudonymize(pd.Series(["C1"]), key)
    msg = str(err.value)
    assert "PULSE_PSEUDONYM_KEY" in msg and "\n" not in msg
    if key:
        assert key.decode() not in msg


@pytest.mark.parametrize(
    "key, ids",
    [("a" * 40, pd.Series(["C1"])), (KEY, pd.Series([1.0, 2.0]))],
    ids=["str-key", "float-ids"],
)
def test_rejects_wrong_types(key, ids):
    with pytest.raises(TypeError):
        pseudonymize(ids, key)

"""The bad-input corpus for the treatment, TEDS and program feeds (see tests/test_bad_input.py)."""
from __future__ import annotations

import pytest

from tests.test_bad_input import bad_file_params, check_bad_file


@pytest.mark.parametrize("name,outcome,text", bad_file_params(police=False))
def test_bad_feed_file(prefect_harness, settings_factory, duckdb_url, tmp_path, name, outcome, text):
    check_bad_file(settings_factory, duckdb_url, tmp_path, name, outcome, text)

"""Outcome feeds' pieces for the shared batch path (``tasks.ingest.stages``): feed specs built from
the adapters (person-level arrests, provider discharges, TEDS-D public-use rows) and the run-time
values their suites need (known charge codes, neighborhoods, admissions already loaded).
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import pandas as pd

from schemas.arrests import known_charge_codes
from schemas.errors import InputError
from schemas.iucr_codes import known_iucr_codes
from tasks.ingest.feed_spec import FeedSpec
from tasks.ingest.treatment_feeds import pass_rejects
from tasks.sources import arrests_export
from tasks.sources import treatment_discharges_provider as provider_d
from tasks.sources import treatment_discharges_teds as teds_d
from tasks.sources.adapter import Adapter

EXPECTATIONS = Path(__file__).resolve().parents[2] / "expectations"


def adapter_spec(source: str, adapter: Adapter, landed_columns: Sequence[str] = (),
                 duplicate_advice: str | None = None) -> FeedSpec:
    """Return the FeedSpec of an adapter without geography (rows the adapter rejects keep its reason).

    ``landed_columns``: the raw batch's column names; those matching the adapter's sensitive
    columns in any case are kept out of quarantine.raw_record too.
    """
    sensitive = {c.upper() for c in adapter.sensitive_columns}
    as_landed = tuple(c for c in landed_columns if c.strip().upper() in sensitive)
    return FeedSpec(source=source, schema=adapter.schema, suite_path=EXPECTATIONS / f"{adapter.suite}.json",
                    to_standard=adapter.to_standard, geocode=pass_rejects, suite_parameters=adapter.suite_parameters,
                    sensitive_raw_columns=tuple(dict.fromkeys((*as_landed, *adapter.sensitive_columns))),
                    duplicate_key_advice=duplicate_advice)


def charge_codes(code_table: Path) -> list[str]:
    """Return the accepted 4-character IUCR charge codes of a code table (column IUCR)."""
    try:
        lookup = pd.read_csv(code_table, dtype="str", keep_default_na=False)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise InputError(code_table, f"cannot read the IUCR code table ({type(exc).__name__})",
                         "Point code_table at the IUCR lookup CSV (data dir)") from None
    if "IUCR" not in lookup.columns:
        raise InputError(code_table, "column 'IUCR' is missing", "Use the city's IUCR lookup CSV")
    return known_charge_codes(known_iucr_codes(lookup))


def arrests_spec(source: str, key: bytes, now: datetime, codes: Sequence[str], neighborhood_ids: Sequence[str],
                 landed_columns: Sequence[str]) -> FeedSpec:
    adapter = arrests_export.arrests_export_adapter(key, now, codes, neighborhood_ids)
    return adapter_spec(source, adapter, landed_columns)


def provider_discharges_spec(source: str, key: bytes, now: datetime, admission_ids: Sequence[str],
                             landed_columns: Sequence[str]) -> FeedSpec:
    adapter = provider_d.provider_discharges_adapter(key, now, admission_ids)
    return adapter_spec(source, adapter, landed_columns)


def teds_discharges_spec(source: str) -> FeedSpec:
    return adapter_spec(source, teds_d.ADAPTER)


ARRESTS_READER = arrests_export.read_raw
PROVIDER_DISCHARGES_READER = provider_d.read_raw
TEDS_DISCHARGES_READER = teds_d.read_raw


def neighborhood_ids(polygons) -> list[str]:
    """Return the boundary file's neighborhood ids as text (the arrests suite's accepted areas)."""
    return sorted(polygons["neighborhood_id"].astype("str").unique())

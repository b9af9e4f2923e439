"""Treatment feeds' pieces for the shared batch path: readers that land files raw, standardize
wrappers, feed specs, and the pseudonymization key.

Three feeds, one path (``tasks.ingest.stages``): provider admission exports (person-level, pseudonymized,
geocoded from the residence address), TEDS-A public-use rows (state level, no neighborhoods) and
treatment facility listings (points joined to neighborhoods).
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from prefect import task
from prefect.cache_policies import NO_CACHE

from schemas.treatment import (ADMISSIONS, FACILITIES, TEDS_STATE_ADMISSIONS, admission_suite_parameters,
                               teds_suite_parameters)
from tasks.ingest.feed_spec import GEOCODE_QUARANTINE, FeedSpec
from tasks.geocode.points import assign_neighborhoods
from tasks.ingest.prefect_tasks import FeedContext
from tasks.ingest.landing import LandedBatch, file_sha256, find_landed, land_batches
from tasks.sources import treatment_facilities, treatment_provider, treatment_teds
from tasks.sources.csv_reader import check_columns, iter_csv_batches, read_header

REPO = Path(__file__).resolve().parents[2]
SUITES = {name: REPO / "expectations" / f"{name}.json"
          for name in ("treatment_admissions", "teds_admissions", "treatment_facilities")}
ADDRESS_COLUMN = "address"  # the street address beside the standard frame until the geocoder drops it
# Export columns never copied into quarantine.raw_record (the raw landing zone keeps them).
SENSITIVE_EXPORT_COLUMNS = ("CLIENT_ID", "ADDRESS")


# -- readers used by land_file: the file as Arrow record batches of text ---------------------

def provider_batches(path: Path) -> Iterator[pa.RecordBatch]:
    """Yield a provider export's rows as text batches, after checking its header (any case)."""
    path = Path(path)
    check_columns(path, [h.upper() for h in read_header(path)], treatment_provider.REQUIRED_COLUMNS)
    yield from iter_csv_batches(path)


def teds_batches(path: Path) -> Iterator[pa.RecordBatch]:
    """Yield the TEDS-A codebook columns of a file as text batches (extras such as a repeated
    pandas ``index`` column are left out, see ``treatment_teds.read_raw``)."""
    yield from pa.Table.from_pandas(treatment_teds.read_raw(Path(path)), preserve_index=False).to_batches()


def sensitive_columns(columns: list[str]) -> tuple[str, ...]:
    """Return the landed column names (as spelled in the file) that hold client ids or addresses."""
    return tuple(c for c in columns if c.strip().upper() in SENSITIVE_EXPORT_COLUMNS)


# -- standardize wrappers (raw chunk -> frame on the raw chunk's index) ----------------------

def standardize_admissions(raw: pd.DataFrame, key: bytes) -> pd.DataFrame:
    """Return one row per export line: ADMISSIONS columns, ``raw_*`` text and the street address
    (``ADDRESS_COLUMN``, for the geocoder only). The client id leaves as a keyed HMAC."""
    upper = raw.rename(columns=lambda c: str(c).strip().upper())
    std, address = treatment_provider.to_standard(upper, key)
    return std.assign(**{ADDRESS_COLUMN: address})


def _as_written(raw: pd.DataFrame, default_admission_year: int | None) -> pd.DataFrame:
    """Return TEDS columns of rows the adapter rejected: whole numbers as written, anything else
    null, CASEID as written ("" when blank), so the suite judges them like any other row."""
    out = {"caseid": raw["CASEID"].astype("str").str.strip().fillna("")}
    for col, var in treatment_teds.INT_SOURCES.items():
        if var in raw.columns:
            num = pd.to_numeric(raw[var].astype("str").str.strip(), errors="coerce")
            out[col] = num.where(np.isfinite(num) & (num == np.floor(num)))
        elif col == "admission_year" and default_admission_year is not None:
            out[col] = pd.Series(float(default_admission_year), index=raw.index)
        else:
            out[col] = pd.Series(np.nan, index=raw.index)
    return TEDS_STATE_ADMISSIONS.coerce(pd.DataFrame(out, index=raw.index))


def standardize_teds(raw: pd.DataFrame, default_admission_year: int | None = None) -> pd.DataFrame:
    """Return one row per raw row: TEDS_STATE_ADMISSIONS columns plus ``GEOCODE_QUARANTINE``
    holding the adapter's reason for rows it rejects.

    ``tasks.ingest.stages`` sets these rows aside with the adapter's reason (e.g. a code that is
    not a whole number) before the suite runs on the others.
    """
    result = treatment_teds.to_standard(raw, default_admission_year)
    rejected = raw.index[result.rejects["row"].to_numpy(dtype="int64")]
    kept = result.admissions.set_axis(raw.index.difference(rejected, sort=False))
    if len(rejected):
        kept = pd.concat([kept, _as_written(raw.loc[rejected], default_admission_year)]).loc[raw.index]
    out = TEDS_STATE_ADMISSIONS.coerce(kept)
    reasons = pd.Series(result.rejects["reason"].to_numpy(object), index=rejected, dtype="str")
    out[GEOCODE_QUARANTINE] = reasons.reindex(raw.index)
    return out


def pass_rejects(frame: pd.DataFrame) -> pd.DataFrame:
    """Return the frame unchanged: the geocode slot of a feed without geography, so rows the
    adapter rejected (``GEOCODE_QUARANTINE``) reach quarantine with the adapter's reason."""
    return frame


def teds_column_notes(columns: list[str], default_admission_year: int | None) -> list[str]:
    """Return the adapter's notes about absent optional TEDS columns for a file with ``columns``."""
    empty = pd.DataFrame({c: pd.Series(dtype="str") for c in columns})
    return treatment_teds.to_standard(empty, default_admission_year).notes


# -- feed specs ------------------------------------------------------------------------------

def admissions_spec(source: str, suite_path: Path, key: bytes, geocode: Callable[[pd.DataFrame], pd.DataFrame],
                    sensitive: tuple[str, ...], now: datetime) -> FeedSpec:
    """Return the FeedSpec of a provider admissions export (``key`` stays inside a closure)."""
    def to_standard(raw: pd.DataFrame) -> pd.DataFrame:
        return standardize_admissions(raw, key)

    return FeedSpec(source=source, schema=ADMISSIONS, suite_path=suite_path, to_standard=to_standard,
                    geocode=geocode, suite_parameters=admission_suite_parameters(now),
                    sensitive_raw_columns=tuple(dict.fromkeys((*sensitive, *SENSITIVE_EXPORT_COLUMNS))))


def teds_spec(source: str, suite_path: Path, default_admission_year: int | None) -> FeedSpec:
    def to_standard(raw: pd.DataFrame) -> pd.DataFrame:
        return standardize_teds(raw, default_admission_year)

    return FeedSpec(source=source, schema=TEDS_STATE_ADMISSIONS, suite_path=suite_path, to_standard=to_standard,
                    geocode=pass_rejects, suite_parameters=teds_suite_parameters())


def facilities_spec(source: str, neighborhoods, bbox: list[float], projected_crs: str,
                    snap_tolerance_m: float) -> FeedSpec:
    def geocode(frame: pd.DataFrame) -> pd.DataFrame:
        return assign_neighborhoods(frame, neighborhoods, projected_crs=projected_crs,
                                    snap_tolerance_m=snap_tolerance_m)

    lon_min, lat_min, lon_max, lat_max = bbox
    return FeedSpec(source=source, schema=FACILITIES, suite_path=SUITES["treatment_facilities"],
                    to_standard=treatment_facilities.to_standard, geocode=geocode,
                    suite_parameters={"lat_min": lat_min, "lat_max": lat_max, "lon_min": lon_min, "lon_max": lon_max})


# -- synthetic or not ----------------------------------------------------------------------

def export_is_synthetic(path: Path) -> bool:
    """True when the export's ``.meta.json`` (written by the demo generator) says synthetic."""
    meta = Path(f"{Path(path).with_suffix('')}.meta.json")
    try:
        return json.loads(meta.read_text(encoding="utf-8")).get("synthetic") is True
    except (OSError, json.JSONDecodeError):
        return False


# -- landing the facility listings (three files, one batch) ----------------------------------

def combined_sha256(paths: list[Path]) -> str:
    """Return one checksum over several files (sha256 of their sha256s, in the given order)."""
    return hashlib.sha256("".join(file_sha256(p) for p in paths).encode("ascii")).hexdigest()


@task(name="land-facilities", tags=["landing"], retries=2, retry_delay_seconds=2, cache_policy=NO_CACHE)
def land_facilities(ctx: FeedContext, data_dir: Path, paths: list[Path]) -> LandedBatch:
    """Land the Chicago listings of the three facility files as one raw batch (once per checksum).

    One batch, not three: ``is_otp`` of a locator listing depends on the OTP listings.
    """
    sha = combined_sha256(paths)
    found = find_landed(ctx.raw_dir, ctx.source, sha)
    if found:
        return found
    table = pa.Table.from_pandas(treatment_facilities.read_facilities(data_dir), preserve_index=False)
    return land_batches(ctx.raw_dir, ctx.source, str(Path(data_dir) / "treatment_facilities"), sha,
                        table.to_batches(max_chunksize=ctx.chunk_rows))


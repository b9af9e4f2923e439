"""Treatment feeds' pieces for the shared batch path: readers that land files raw, standardize
wrappers, feed specs, and the pseudonymization key.

Three feeds, one path (``tasks.batch``): provider admission exports (person-level, pseudonymized,
geocoded from the residence address), TEDS-A public-use rows (state level, no neighborhoods) and
treatment facility listings (points joined to neighborhoods).
"""
from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
from prefect import task
from prefect.cache_policies import NO_CACHE

from schemas.treatment import (ADMISSIONS, FACILITIES, TEDS_STATE_ADMISSIONS, admission_suite_parameters,
                               teds_suite_parameters)
from tasks.batch import GEOCODE_QUARANTINE, FeedSpec
from tasks.errors import ConfigError
from tasks.geocode import assign_neighborhoods
from tasks.ingest_steps import FeedContext
from tasks.landing import LandedBatch, file_sha256, find_landed, land_batches
from tasks.pseudonymize import check_key
from tasks.sources import treatment_facilities, treatment_provider, treatment_teds
from tasks.sources.csv_reader import check_columns, iter_csv_batches, read_header

REPO = Path(__file__).resolve().parent.parent
SUITES = {name: REPO / "expectations" / f"{name}.json"
          for name in ("treatment_admissions", "teds_admissions", "treatment_facilities")}
ADDRESS_COLUMN = "address"  # the street address beside the standard frame until the geocoder drops it
# Export columns never copied into quarantine.raw_record (the raw landing zone keeps them).
SENSITIVE_EXPORT_COLUMNS = ("CLIENT_ID", "ADDRESS")
_FAILURE_ACTIONS = {"critical": "fail_batch", "row": "quarantine"}


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


# -- suites ----------------------------------------------------------------------------------

def with_failure_actions(suite: dict) -> dict:
    """Return the suite with ``meta.on_failure`` set from ``meta.severity`` where it is missing.

    NOTE: ``tasks/validate.py`` acts on ``meta.on_failure``; the treatment suites only say
    ``meta.severity`` (critical / row), which would make every failure pass unnoticed.
    """
    def actionable(e: dict) -> dict:
        meta = dict(e.get("meta", {}))
        if "on_failure" not in meta and meta.get("severity") in _FAILURE_ACTIONS:
            meta["on_failure"] = _FAILURE_ACTIONS[meta["severity"]]
        return {**e, "meta": meta}

    return {**suite, "expectations": [actionable(e) for e in suite["expectations"]]}


def actionable_suite(name: str, folder: Path) -> Path:
    """Write ``with_failure_actions`` of ``expectations/<name>.json`` into ``folder``; return its path."""
    suite = with_failure_actions(json.loads(SUITES[name].read_text(encoding="utf-8")))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    text = json.dumps(suite, indent=1)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
    return path


# -- standardize wrappers (raw chunk -> frame on the raw chunk's index) ----------------------

def standardize_admissions(raw: pd.DataFrame, key: bytes) -> pd.DataFrame:
    """Return one row per export line: ADMISSIONS columns, ``raw_*`` text and the street address
    (``ADDRESS_COLUMN``, for the geocoder only). The client id leaves as a keyed HMAC."""
    upper = raw.rename(columns=lambda c: str(c).strip().upper())
    std, address = treatment_provider.to_standard(upper, key)
    return std.assign(**{ADDRESS_COLUMN: address})


def standardize_teds(raw: pd.DataFrame, default_admission_year: int | None = None) -> pd.DataFrame:
    """Return one row per raw row: TEDS_STATE_ADMISSIONS columns plus ``GEOCODE_QUARANTINE``
    holding the adapter's reason for rows it rejects (their codes are null; CASEID as written)."""
    result = treatment_teds.to_standard(raw, default_admission_year)
    rejected = raw.index[result.rejects["row"].to_numpy(dtype="int64")]
    kept = result.admissions.set_axis(raw.index.difference(rejected, sort=False))
    if len(rejected):
        bad = TEDS_STATE_ADMISSIONS.empty_frame().reindex(rejected)
        bad["caseid"] = raw.loc[rejected, "CASEID"].astype("str").str.strip().fillna("")
        kept = pd.concat([kept, bad]).loc[raw.index]
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


# -- the pseudonymization key ----------------------------------------------------------------

def resolve_pseudonym_key(configured: str | None, key_file: Path, allow_generated: bool) -> tuple[bytes, str]:
    """Return (key, where it came from: ``configured`` / ``key file`` / ``generated``).

    Without a configured key, a key file is used (created once, random, mode 0600) only when
    ``allow_generated`` (synthetic demo data); otherwise ConfigError. The key is never logged.
    """
    if configured:
        key = configured.encode("utf-8")
        check_key(key)
        return key, "configured"
    if not allow_generated:
        raise ConfigError("PULSE_PSEUDONYM_KEY", "is not set; client ids of treatment admissions are pseudonymized "
                          "with it", 'Set it to a random secret, e.g. export PULSE_PSEUDONYM_KEY="$(python -c '
                          "'import secrets; print(secrets.token_hex(32))')\"")
    origin = "key file"
    if not key_file.exists():
        key_file.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="ascii") as fh:
                fh.write(secrets.token_hex(32) + "\n")
            origin = "generated"
        except FileExistsError:  # another run created it meanwhile: use that one
            pass
    if key_file.stat().st_mode & 0o077:
        raise ConfigError(key_file, f"is readable by other users (mode {key_file.stat().st_mode & 0o777:o})",
                          f"Run chmod 600 {key_file}")
    key = key_file.read_text(encoding="ascii").strip().encode("ascii")
    check_key(key)
    return key, origin


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


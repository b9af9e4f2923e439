"""Program-feed pieces: readers for landing, feed specs, site geocoding and cross-batch references.

Programs load before their sessions and sessions before their sign-in rosters: each later batch
is validated against what the warehouse already holds (``known_programs``, ``known_session_ids``).
Because that check depends on more than the file's bytes, a sessions or roster batch is skipped
on a rerun only when both its file and the references it uses are unchanged (``revalidation_batch``).
"""
from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
from sqlalchemy import select

from schemas.programs import (PROGRAMS, ROSTER, SESSIONS, roster_for_validation, roster_suite_parameters,
                              session_suite_parameters, sessions_for_validation)
from tasks.ingest.feed_spec import FeedSpec
from tasks.geocode.points import assign_neighborhoods
from tasks.ingest.prefect_tasks import FeedContext
from tasks.ingest.landing import LandedBatch, read_landed_columns
from tasks.sources import programs_cpl as cpl
from tasks.sources import programs_demo as demo
from warehouse.resource import Warehouse
from warehouse.load import write_stage
from warehouse.tables import metadata

REPO = Path(__file__).resolve().parents[2]
PROGRAMS_SUITE = REPO / "expectations" / "programs.json"
SESSIONS_SUITE = REPO / "expectations" / "program_sessions.json"
ROSTER_SUITE = REPO / "expectations" / "session_roster.json"
SITE_ADDRESS = "site_address"
# Raw columns never copied into quarantine.raw_record: street addresses and person ids.
SENSITIVE_RAW = (SITE_ADDRESS, "ADDRESS", "SITE_ADDRESS", "PARTICIPANT_ID")
REFERENCE_COLUMNS = ["program_id", "program_type", "started_on", "ended_on"]


@dataclass(frozen=True)
class ProgramContext(FeedContext):
    """Feed context plus the values the program suites and the site geocoder need."""

    projected_crs: str
    snap_tolerance_m: float
    program_parameters: dict[str, Any]


# ---------------------------------------------------------------- landing readers (IO)

def _as_batches(frame: pd.DataFrame) -> Iterator[pa.RecordBatch]:
    yield from pa.Table.from_pandas(frame, preserve_index=False).to_batches()


def cpl_visitors_reader(path: Path) -> Iterator[pa.RecordBatch]:
    """Yield a CPL yearly visitors file as text batches (header checked: one-line errors)."""
    cpl.year_of(path)  # a file whose year is unknown cannot make session ids: refuse before landing
    return _as_batches(cpl.read_raw(path))


def cpl_locations_reader(path: Path) -> Iterator[pa.RecordBatch]:
    """Yield the CPL locations file as text batches."""
    return _as_batches(cpl.read_locations(path))


def demo_reader(kind: str) -> Callable[[Path], Iterator[pa.RecordBatch]]:
    """Return a reader for one provider file of the demo feed (programs, sessions or roster)."""
    def read(path: Path) -> Iterator[pa.RecordBatch]:
        return _as_batches(demo.read_raw(path, kind))

    return read


def read_landed(batch: LandedBatch) -> pd.DataFrame:
    """Return a whole landed batch as text, labelled with the file it came from."""
    frame = read_landed_columns(batch, list(batch.columns))
    frame.attrs["source_path"] = batch.origin
    return frame


# ---------------------------------------------------------------- CPL: one feed from the landed years

def standardize_library(visitors: list[LandedBatch], locations: LandedBatch | None
                        ) -> tuple[list[cpl.CplFeed], cpl.CplFeed]:
    """Return the per-year feeds (same order as ``visitors``) and their combination (one program per branch)."""
    where = read_landed(locations) if locations is not None else None
    years = [cpl.to_standard(read_landed(b), cpl.year_of(b.origin), where) for b in visitors]
    order = sorted(range(len(years)), key=lambda i: cpl.year_of(visitors[i].origin))
    return years, cpl.combine([years[i] for i in order])


def _sha(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()


def derived_batch(ctx: FeedContext, batch_id: str, origin: str, sha256: str, frame: pd.DataFrame) -> LandedBatch:
    """Stage a frame derived from landed batches (long month cells, combined branches) as a batch.

    It lives in the staging area, not the raw zone: the raw files it came from stay as landed.
    """
    path = write_stage(ctx.stage_dir / ctx.source / "derived", batch_id, frame)
    return LandedBatch(batch_id=batch_id, source=ctx.source, origin=origin, sha256=sha256, rows=len(frame),
                       columns=list(frame.columns), parquet_path=str(path), watermark=None,
                       extracted_at=datetime.now().isoformat(timespec="seconds"))


def library_programs_batch(ctx: FeedContext, combined: cpl.CplFeed, visitors: list[LandedBatch],
                           locations: LandedBatch | None) -> LandedBatch:
    """Return the batch of CPL branches (one row per program) combined from every landed year."""
    frame = combined.programs.assign(**{SITE_ADDRESS: combined.site_addresses.to_numpy()})
    inputs = sorted(b.sha256 for b in visitors) + ([locations.sha256] if locations is not None else [])
    sha = _sha("programs", *inputs)
    names = ", ".join(Path(b.origin).name for b in sorted(visitors, key=lambda b: cpl.year_of(b.origin)))
    return derived_batch(ctx, f"{ctx.source}-programs-{sha[:16]}", f"branches of {names}", sha, frame)


def library_cells_batch(ctx: FeedContext, visitors: LandedBatch, year: cpl.CplFeed) -> LandedBatch:
    """Return one yearly file as month cells (12 per branch row): the unit its audit row counts."""
    return derived_batch(ctx, visitors.batch_id, visitors.origin, visitors.sha256, year.cells)


def referenced_ids(batch: LandedBatch, column: str) -> list[str]:
    """Return the distinct stripped values of one column of a landed (or derived) batch."""
    values = read_landed_columns(batch, [column])[column].dropna().astype("str").str.strip()
    return sorted(set(values))


def revalidation_batch(batch: LandedBatch, fingerprint: str) -> LandedBatch:
    """Return the batch with a checksum covering its bytes and the references it is validated against.

    Same batch id, so a reprocessed batch replaces its own quarantine rows.
    """
    return dataclasses.replace(batch, sha256=_sha(batch.sha256, fingerprint))


def program_fingerprint(program_ids: Iterable[str], programs: pd.DataFrame) -> str:
    """Return a digest of what the sessions suite knows about these programs (unknown ones included)."""
    ref = programs.set_index("program_id").reindex(sorted(set(program_ids)))[REFERENCE_COLUMNS[1:]]
    return _sha(ref.to_csv(date_format="%Y-%m-%d"))


def session_fingerprint(session_ids: Iterable[str], known: Iterable[str]) -> str:
    """Return a digest of which of these sessions are loaded."""
    return _sha(*sorted(set(session_ids) & set(known)))


# ---------------------------------------------------------------- warehouse references (IO)

def known_programs(wh: Warehouse) -> pd.DataFrame:
    """Return every program in ``dim_programs``: program_id, program_type, started_on, ended_on."""
    table = metadata.tables[PROGRAMS.table]
    with wh.connect() as conn:
        rows = conn.execute(select(*[table.c[c] for c in REFERENCE_COLUMNS])).all()
    frame = pd.DataFrame(rows, columns=REFERENCE_COLUMNS)
    for col in ("started_on", "ended_on"):
        frame[col] = pd.to_datetime(frame[col]).astype("datetime64[us]")
    return frame.astype({"program_id": "str", "program_type": "str"})


def known_session_ids(wh: Warehouse) -> list[str]:
    """Return the session ids in ``fct_program_sessions``."""
    table = metadata.tables[SESSIONS.table]
    with wh.connect() as conn:
        return list(conn.execute(select(table.c.session_id)).scalars())


# ---------------------------------------------------------------- site geocoding (pure given its parts)

def geocode_sites(frame: pd.DataFrame, neighborhoods: gpd.GeoDataFrame, *, projected_crs: str,
                  snap_tolerance_m: float, by_address: Callable[[pd.DataFrame], pd.DataFrame]) -> pd.DataFrame:
    """Return program rows (same index) with the geocode columns filled and no site address.

    Sites given as points are joined to their polygon (``tasks.geocode.points``); the others are
    located from their address by ``by_address`` (which may flag a row for quarantine).
    """
    has_point = frame["latitude"].notna() & frame["longitude"].notna()
    parts = []
    if has_point.any():
        points = assign_neighborhoods(frame[has_point], neighborhoods, projected_crs=projected_crs,
                                      snap_tolerance_m=snap_tolerance_m, fallback_to_source_area=False)
        parts.append(points.drop(columns=["snap_distance_m"]).assign(match_score=np.nan))
    if (~has_point).any():
        parts.append(by_address(frame[~has_point]))
    out = pd.concat(parts).loc[frame.index]
    return out.drop(columns=[SITE_ADDRESS], errors="ignore")


class LazyStep:
    """A geocode function built on first use: the address geocoder takes seconds to build and
    a feed whose sites are all points never needs it."""

    def __init__(self, build: Callable[[], Callable[[pd.DataFrame], pd.DataFrame]]) -> None:
        self._build = build
        self._step: Callable[[pd.DataFrame], pd.DataFrame] | None = None

    def __call__(self, frame: pd.DataFrame) -> pd.DataFrame:
        if self._step is None:
            self._step = self._build()
        return self._step(frame)


# ---------------------------------------------------------------- feed specs

def _labelled(standardize: Callable[[pd.DataFrame], Any], origin: str | None, raw: pd.DataFrame):
    """Run ``standardize`` on a chunk labelled with its file, so input errors name it."""
    if origin:
        raw = raw.copy(deep=False)
        raw.attrs["source_path"] = origin
    return standardize(raw)


def demo_programs_standard(raw: pd.DataFrame) -> pd.DataFrame:
    """Return canonical demo programs plus their ``site_address`` (same index)."""
    programs, addresses = demo.programs_to_standard(raw)
    return programs.assign(**{SITE_ADDRESS: addresses})


def landed_programs_standard(raw: pd.DataFrame) -> pd.DataFrame:
    """Return a derived programs batch as canonical programs plus ``site_address`` (already standard)."""
    return PROGRAMS.coerce(raw).assign(**{SITE_ADDRESS: raw[SITE_ADDRESS].astype("str")})


def programs_spec(ctx: ProgramContext, standardize: Callable[[pd.DataFrame], pd.DataFrame],
                  geocode: Callable[[pd.DataFrame], pd.DataFrame], origin: str | None = None) -> FeedSpec:
    return FeedSpec(source=ctx.source, schema=PROGRAMS, suite_path=PROGRAMS_SUITE,
                    to_standard=partial(_labelled, standardize, origin), geocode=geocode,
                    suite_parameters=ctx.program_parameters, sensitive_raw_columns=SENSITIVE_RAW)


def _sessions_checked(standardize: Callable[[pd.DataFrame], pd.DataFrame], programs: pd.DataFrame,
                      raw: pd.DataFrame) -> pd.DataFrame:
    return sessions_for_validation(standardize(raw), programs)


def sessions_spec(ctx: FeedContext, standardize: Callable[[pd.DataFrame], pd.DataFrame], programs: pd.DataFrame,
                  origin: str | None = None) -> FeedSpec:
    """Spec for sessions checked against ``programs`` (``known_programs``): orphans are quarantined."""
    return FeedSpec(source=ctx.source, schema=SESSIONS, suite_path=SESSIONS_SUITE,
                    to_standard=partial(_labelled, partial(_sessions_checked, standardize, programs), origin),
                    geocode=None, suite_parameters=session_suite_parameters(programs),
                    sensitive_raw_columns=SENSITIVE_RAW)


def _roster_checked(key: bytes, raw: pd.DataFrame) -> pd.DataFrame:
    return roster_for_validation(demo.roster_to_standard(raw, key))


def roster_spec(ctx: FeedContext, pseudonym_key: bytes, session_ids: Iterable[str],
                origin: str | None = None) -> FeedSpec:
    """Spec for sign-in rows: ids pseudonymized, rows of sessions not loaded quarantined."""
    return FeedSpec(source=ctx.source, schema=ROSTER, suite_path=ROSTER_SUITE,
                    to_standard=partial(_labelled, partial(_roster_checked, pseudonym_key), origin),
                    geocode=None, suite_parameters=roster_suite_parameters(session_ids),
                    sensitive_raw_columns=SENSITIVE_RAW)

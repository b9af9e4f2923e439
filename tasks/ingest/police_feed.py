"""Police-incidents pieces: suite parameters, the feed spec, and API landing with a safe watermark."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from schemas.incidents import INCIDENT_OFFENSES, INCIDENTS, OFFENSE_COUNT
from tasks.ingest.feed_spec import FeedSpec
from schemas.city_config import CityTable, IncidentSourceConfig
from schemas.errors import ConfigError, PulseError
from schemas.failpoints import failpoint
from tasks.geocode.points import assign_neighborhoods
from tasks.ingest.prefect_tasks import FeedContext
from tasks.ingest.landing import LandedBatch, land_batches
from tasks.sources import socrata
from tasks.sources.incident_adapters import IncidentFeedAdapter
from tasks.sources.incident_grain import OFFENSE_FIELDS

REPO = Path(__file__).resolve().parents[2]
SUITE = REPO / "expectations" / "police_incidents.json"


@dataclass(frozen=True)
class PoliceContext(FeedContext):
    """Feed context plus the police feed's geocoding and validation values."""

    adapter: IncidentFeedAdapter
    projected_crs: str
    xy_crs: str | None
    snap_tolerance_m: float
    suite_parameters: dict[str, Any]


def suite_parameters(city: CityTable, offense_codes: list[str] | None, earliest: str) -> dict[str, Any]:
    """Return run-time values for the police suite's ``$PARAMETER``s.

    Without a code table (``offense_codes`` None) the known-code expectation is skipped.
    """
    lon_min, lat_min, lon_max, lat_max = city.bbox
    codes = offense_codes
    return {
        "earliest_date": pd.Timestamp(earliest), "now": pd.Timestamp.now(tz=city.timezone).tz_localize(None),
        "lat_min": lat_min, "lat_max": lat_max, "lon_min": lon_min, "lon_max": lon_max,
        "known_offense_codes": sorted(set(codes) | {c.zfill(4) for c in codes}) if codes is not None else None,
    }


def feed_spec(ctx: PoliceContext, neighborhoods) -> FeedSpec:
    def geocode(frame: pd.DataFrame) -> pd.DataFrame:
        return assign_neighborhoods(frame, neighborhoods, projected_crs=ctx.projected_crs, xy_crs=ctx.xy_crs,
                                    snap_tolerance_m=ctx.snap_tolerance_m)

    adapter = ctx.adapter
    collapse = adapter.to_incidents
    return FeedSpec(source=ctx.source, schema=INCIDENTS, suite_path=SUITE, to_standard=adapter.to_standard,
                    geocode=geocode, suite_parameters=ctx.suite_parameters, collapse=collapse,
                    child=INCIDENT_OFFENSES if collapse else None, carry_columns=(OFFENSE_COUNT,) if collapse else (),
                    refresh_columns=OFFENSE_FIELDS if collapse else (),
                    duplicate_key_advice=adapter.duplicate_key_advice() if adapter.incident_key else None)


def _record_id(record) -> str | None:
    """The record's Socrata row id (``:id``), else its ``id`` field."""
    rid = record.get(":id") or record.get("id")
    return None if rid is None else str(rid)


def land_api_pages(ctx: PoliceContext, cfg: IncidentSourceConfig, since: str | None, app_token: str | None,
                   transport=None, sleep=None, log=None) -> tuple[list[LandedBatch], str | None]:
    """Land every page newer than ``since``; return landed batches and the new watermark.

    The new watermark is only returned when every page arrived and the row count matches
    the source's own count, so it can never pass data that was not landed. The portal, page size,
    request timeout, attempts and backoff come from the source's config.
    """
    if not (cfg.api_base_url and cfg.dataset_id):
        raise ConfigError(f"[sources.{ctx.source}]", "needs api_base_url and dataset_id for mode=api",
                          "Add them (e.g. https://data.cityofchicago.org and ijzp-q8t2) or use mode=files")
    base_url, dataset_id, page_size = cfg.api_base_url, cfg.dataset_id, cfg.page_size
    http = {"transport": transport, "timeout": cfg.timeout_seconds, "max_attempts": cfg.max_attempts,
            "backoff": cfg.retry_backoff_seconds,
            **({"sleep": sleep} if sleep is not None else {})}
    kwargs = {**http, "log": log}
    expected = socrata.count_rows(base_url, dataset_id, watermark_field=ctx.adapter.watermark_field, since=since,
                                  app_token=app_token, **http)
    landed, got, newest = [], 0, since
    first_page: dict[str, int] = {}  # record id -> offset of the page it first came on
    repeated: list[str] = []  # ids that came again on a later page of this extraction
    for page in socrata.iter_pages(base_url, dataset_id, page_size=page_size,
                                   watermark_field=ctx.adapter.watermark_field, since=since,
                                   app_token=app_token, **kwargs):
        if ctx.adapter.api_records_to_raw is None:
            raise PulseError(base_url, "this source's adapter has no API mapping", "Use mode=files for it")
        table = ctx.adapter.api_records_to_raw(page.records)
        batch = land_batches(ctx.raw_dir, ctx.source, f"{page.url}?$offset={page.offset}", page.body_sha256,
                             table.to_batches(max_chunksize=ctx.chunk_rows), watermark=since)
        landed.append(batch)
        failpoint("extract.api_page_landed")
        got += len(page.records)
        for rid in {_record_id(r) for r in page.records} - {None}:
            if first_page.setdefault(rid, page.offset) != page.offset:
                repeated.append(rid)
        page_max = max((r.get(ctx.adapter.watermark_field) or "" for r in page.records), default="")
        newest = max(newest or "", page_max) or newest
    if repeated:
        # The dataset changed while it was paged: the same record on two pages means another one may
        # have slid past the page boundary unseen, so the repeats do not count toward the total.
        sample = ", ".join(sorted(repeated)[:5])
        if log is not None:
            log(f"{base_url} {dataset_id}: {len(repeated)} record(s) came on two pages of this extraction "
                f"(id {sample}): the dataset changed while it was paged; the rows loaded, the watermark stays "
                f"at {since} so the next run reads this span again")
        got -= len(repeated)
        if got < expected:
            raise PulseError(f"{base_url} {dataset_id}", f"{len(repeated)} record(s) came on two pages (id {sample}) "
                             f"and only {got} of {expected} distinct rows newer than {since} arrived",
                             "The dataset changed while it was paged; the watermark was not advanced: rerun")
        # A record inserted mid-extraction may have been skipped while its update time is below the newest
        # one seen: keep the old watermark so the next run reads that span again (merges are idempotent).
        return landed, since
    if got < expected:
        raise PulseError(f"{base_url} {dataset_id}", f"source returned {got} of {expected} rows newer than {since}",
                         "Pages went missing (an empty page mid-stream?); the watermark was not advanced: rerun")
    return landed, newest

"""Police-incident adapters from a source's config: ``police_chicago`` or the generic ``mapped``.

``mapped_adapter(config, slug=..., city_timezone=...)`` builds the generic adapter from the typed
``MappedSourceConfig`` and returns an ``IncidentFeedAdapter`` (an ``Adapter`` plus the incident
grain step). ``incident_adapter(table, tz)`` is the older dict-based entry the flows still call.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import pyarrow as pa

from schemas.city_config import IncidentSourceConfig
from schemas.errors import ConfigError
from schemas.incidents import INCIDENTS
from tasks.sources import police_chicago
from tasks.sources.adapter import Adapter
from tasks.sources.incident_grain import IncidentFrames, IncidentGrain, to_incidents
from tasks.sources.mapped import mapping_from_config, read_raw_csv, standardize_incidents
from tasks.sources.mapped_config import DEFAULT_PRECEDENCE, MappedSourceConfig

SUITE = "police_incidents"


@dataclass(frozen=True)
class IncidentFeedAdapter(Adapter):
    """An incident feed's adapter plus its grain step (see tasks/sources/incident_grain.py)."""

    grain: IncidentGrain = IncidentGrain()
    to_incidents: Callable[..., IncidentFrames] | None = None  # (rows, stored_offenses=None) -> IncidentFrames
    api_records_to_raw: Callable[[list], pa.Table] | None = None
    watermark_field: str | None = None
    xy_crs: str | None = None
    incident_key: tuple[str, ...] = ()  # the configured key columns, for the duplicate-key advice

    def duplicate_key_advice(self) -> str:
        """Return what to change when ``incident_id`` repeats within a batch (the unique-id check failed)."""
        key = list(self.incident_key) or ["<id column>"]
        return (f"If the feed has one row per offense, add a [sources.{self.slug}.offense_rows] table (rows sharing "
                f"the key become one incident); if more columns identify an incident, list them all: "
                f"incident_key = {key + ['<column>']}")


def grain_from_config(cfg: MappedSourceConfig) -> IncidentGrain:
    """Return the incident grain of a typed mapped-source config."""
    derived = [cfg.derived_key] + [lay.derived_key for lay in cfg.layouts]
    counter = any(d is not None and d.occurrence_counter for d in derived)
    rows = cfg.offense_rows
    return IncidentGrain(offense_rows=rows is not None, occurrence_counter=counter,
                         pick=rows.pick if rows else "drug_first", code_order=rows.code_order if rows else "numeric",
                         precedence=tuple(rows.category_order) if rows else DEFAULT_PRECEDENCE)


def mapped_adapter(config: MappedSourceConfig, *, slug: str, city_timezone: str) -> IncidentFeedAdapter:
    """Return the generic adapter for one typed ``[sources.<slug>]`` table (adapter = "mapped")."""
    mapping = mapping_from_config(config, city_timezone)
    grain = grain_from_config(config)
    return IncidentFeedAdapter(
        slug=slug, schema=INCIDENTS, suite=SUITE, read_raw=partial(read_raw_csv, mapping=mapping),
        to_standard=partial(standardize_incidents, mapping=mapping), geocoder="points",
        grain=grain, to_incidents=partial(to_incidents, grain=grain) if grain.needs_batch_step else None,
        watermark_field=config.watermark_field, xy_crs=config.coordinates.xy_crs,
        incident_key=tuple(config.incident_key or ()))


CHICAGO = IncidentFeedAdapter(
    slug=police_chicago.SLUG, schema=INCIDENTS, suite=SUITE, read_raw=police_chicago.read_raw,
    to_standard=police_chicago.to_standard, geocoder="points",
    api_records_to_raw=police_chicago.api_records_to_raw, watermark_field=police_chicago.WATERMARK_FIELD)


def incident_adapter(cfg: IncidentSourceConfig, city_timezone: str, *, slug: str) -> IncidentFeedAdapter:
    """Return the adapter of one typed ``[sources.<slug>]`` incident source (police_chicago or mapped)."""
    if isinstance(cfg, MappedSourceConfig):
        return mapped_adapter(cfg, slug=slug, city_timezone=city_timezone)
    if cfg.adapter == "police_chicago":
        return CHICAGO
    raise ConfigError(f"[sources.{slug}]", f"adapter {cfg.adapter!r} does not read police incidents",
                      "Use adapter = \"police_chicago\" or \"mapped\"")

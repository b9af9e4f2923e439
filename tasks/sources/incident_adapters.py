"""Police-incident adapters from a source's config: ``police_chicago`` or the generic ``mapped``.

``mapped_adapter(config, slug=..., city_timezone=...)`` builds the generic adapter from the typed
``MappedSourceConfig`` and returns an ``IncidentFeedAdapter`` (an ``Adapter`` plus the incident
grain step). ``incident_adapter(table, tz)`` is the older dict-based entry the flows still call.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from schemas.errors import ConfigError
from schemas.incidents import INCIDENTS
from tasks.sources import police_chicago
from tasks.sources.adapter import Adapter
from tasks.sources.incident_grain import IncidentFrames, IncidentGrain, to_incidents
from tasks.sources.mapped import DerivedKey, IncidentMapping, Layout, read_raw_csv, standardize_incidents
from tasks.sources.mapped_config import (
    DEFAULT_PRECEDENCE, DRUG_CATEGORIES, DerivedKeyConfig, MappedSourceConfig, OffenseSelector, parse_mapped_source,
)
from tasks.sources.mapped_values import FlagRule, OffenseRules, Selector

SUITE = "police_incidents"


@dataclass(frozen=True)
class IncidentFeedAdapter(Adapter):
    """An incident feed's adapter plus its grain step (see tasks/sources/incident_grain.py)."""

    grain: IncidentGrain = IncidentGrain()
    to_incidents: Callable[..., IncidentFrames] | None = None  # (rows, stored_offenses=None) -> IncidentFrames
    api_records_to_raw: Callable[[list], pa.Table] | None = None
    watermark_field: str | None = None
    xy_crs: str | None = None


@dataclass(frozen=True)
class IncidentAdapter:
    """The older face the flows use (kept until they take ``IncidentFeedAdapter``)."""

    read_raw: Callable[[Path], Iterator[pa.RecordBatch]]
    to_standard: Callable[[pd.DataFrame], pd.DataFrame]
    api_records_to_raw: Callable[[list], pa.Table] | None
    watermark_field: str | None
    feed: IncidentFeedAdapter | None = None


def _selector(sel: OffenseSelector | list[str]) -> Selector:
    if isinstance(sel, list):
        return Selector(codes=tuple(sel))
    return Selector(tuple(sel.codes), sel.code_pattern, tuple(sel.groups), sel.description_pattern, sel.match)


def _derived(d: DerivedKeyConfig | None) -> DerivedKey | None:
    if d is None:
        return None
    return DerivedKey(tuple(d.fields), d.prefix, d.occurrence_counter)


def _columns(cfg: MappedSourceConfig) -> dict[str, str | tuple[str, ...]]:
    cols = cfg.columns.model_dump(exclude_none=True, exclude={"occurred_at", "reported_at", "updated_at", "is_arrest",
                                                              "is_domestic", "is_shooting"})
    return {k: tuple(v) if isinstance(v, list) else v for k, v in cols.items()}


def _flag(value) -> str | FlagRule | None:
    if value is None or isinstance(value, str):
        return value
    return FlagRule(value.column, tuple(value.true_values), tuple(value.false_values), dict(value.values),
                    value.blank, value.case_sensitive)


def mapping_from_config(cfg: MappedSourceConfig, city_timezone: str) -> IncidentMapping:
    """Return the resolved mapping of a typed mapped-source config."""
    off, ts, xy = cfg.offenses, cfg.timestamps, cfg.coordinates
    by_code: dict[str, str] = {}
    selectors: list[tuple[str, Selector]] = []
    for category in off.match_order + [c for c in DRUG_CATEGORIES if c not in off.match_order]:
        rule = getattr(off, category)
        if isinstance(rule, list):  # plain code lists keep the fast code -> category map
            for code in rule:
                key = str(code).strip().upper()
                by_code.setdefault(key.lstrip("0") if off.strip_leading_zeros else key, category)
        elif rule is not None:
            selectors.append((category, _selector(rule)))
    rules = OffenseRules(_selector(off.drug) if off.drug else None, tuple(selectors))
    cols = _columns(cfg)
    code_column = off.code_column or (cols.get("iucr") if isinstance(cols.get("iucr"), str) else None)
    placeholders = {"x_coordinate": (0,), "y_coordinate": (0,)}
    placeholders.update({k: tuple(v) for k, v in cfg.placeholders.items()})
    derived = _derived(cfg.derived_key)
    layouts = tuple(Layout(lay.name, tuple(lay.when_columns), dict(lay.rename),
                           tuple(lay.incident_key) if lay.incident_key else None, _derived(lay.derived_key))
                    for lay in cfg.layouts)
    keys = tuple(cfg.incident_key or ())
    return IncidentMapping(
        id_column=keys[0] if keys else None, key_columns=keys, derived_key=derived,
        occurred_at=cfg.columns.occurred_at, updated_at=cfg.columns.updated_at, reported_at=cfg.columns.reported_at,
        is_arrest=_flag(cfg.columns.is_arrest), is_domestic=_flag(cfg.columns.is_domestic),
        is_shooting=_flag(cfg.columns.is_shooting), columns=cols,
        timestamp_formats=tuple(ts.formats), formats_by_field={k: tuple(v) for k, v in ts.by_field.items()},
        source_timezone=ts.timezone or city_timezone, city_timezone=city_timezone,
        latitude=xy.latitude, longitude=xy.longitude, x=xy.x, y=xy.y,
        offense_code_column=code_column, strip_leading_zeros=off.strip_leading_zeros, category_by_code=by_code,
        offense_rules=rules if (rules.drug or rules.categories) else None,
        group_column=off.group_column, description_column=off.description_column, placeholders=placeholders,
        count_column=cfg.offense_rows.count_column if cfg.offense_rows else None,
        layouts=layouts, encodings=tuple(cfg.encodings))


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
        watermark_field=config.watermark_field, xy_crs=config.coordinates.xy_crs)


CHICAGO = IncidentFeedAdapter(
    slug=police_chicago.SLUG, schema=INCIDENTS, suite=SUITE, read_raw=police_chicago.read_raw,
    to_standard=police_chicago.to_standard, geocoder="points",
    api_records_to_raw=police_chicago.api_records_to_raw, watermark_field=police_chicago.WATERMARK_FIELD)


def incident_adapter(cfg: Mapping[str, Any], city_timezone: str, *, file: str | None = None,
                     slug: str = "<slug>") -> IncidentAdapter:
    """Return the adapter named by ``cfg['adapter']`` for one ``[sources.<slug>]`` table."""
    kind = cfg.get("adapter")
    if kind == "police_chicago":
        return IncidentAdapter(CHICAGO.read_raw, CHICAGO.to_standard, CHICAGO.api_records_to_raw,
                               CHICAGO.watermark_field, CHICAGO)
    if kind == "mapped":
        feed = mapped_adapter(parse_mapped_source(dict(cfg), file=file, slug=slug), slug=slug,
                              city_timezone=city_timezone)
        return IncidentAdapter(feed.read_raw, feed.to_standard, None, feed.watermark_field, feed)
    raise ConfigError(f"{file or 'city config'} [sources.{slug}]", f"unknown adapter {kind!r}",
                      "Use adapter = \"police_chicago\" or \"mapped\"")

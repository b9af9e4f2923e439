"""Generic mapped incident adapter: a city's CSV export -> canonical incident (offense) rows.

Everything city-specific comes from a mapping (the ``[sources.<slug>]`` table of a city
config, typed by ``tasks/sources/mapped_config.py``), so a new city is configuration, not code.
The Chicago adapter uses the same core with Chicago's mapping.

``standardize_incidents`` returns one row per input row (for offense-row feeds: one row per
offense, with ``offense_count``); ``tasks/sources/incident_grain.py`` collapses them into
incidents for a whole batch.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from schemas.base import PANDAS_DTYPES
from schemas.errors import InputError
from schemas.incidents import INCIDENTS, OFFENSE_COUNT
from tasks.sources.adapter import QUARANTINE_REASON
from tasks.sources.incident_grain import COUNTER_MARK
from tasks.sources.csv_reader import LAYOUT_META, check_columns, detect_encoding, iter_csv_batches, read_header
from tasks.sources.mapped_config import (
    DRUG_CATEGORIES, DerivedKeyConfig, MappedSourceConfig, OffenseSelector, parse_mapped_source,
)
from tasks.sources.mapped_values import (
    FlagRule, OffenseRules, Selector, blank_placeholders, classify_offenses, hashed_key, joined_text, nibrs_codes,
    parse_flag, parse_timestamps, text, to_float,
)

__all__ = ["IncidentMapping", "Layout", "DerivedKey", "parse_timestamps", "read_raw_csv", "standardize_incidents"]

# Canonical columns a mapping may fill from source columns (text values, stripped).
TEXT_FIELDS = (
    "case_number", "iucr", "primary_type", "description", "fbi_code", "location_description",
    "block", "beat", "district", "ward", "source_area_id",
)
RAW_COLUMNS = ("raw_occurred_at", "raw_latitude", "raw_longitude", "raw_updated_at")
FLAG_FIELDS = ("is_arrest", "is_domestic", "is_shooting")


@dataclass(frozen=True)
class DerivedKey:
    fields: tuple[str, ...]
    prefix: str = ""
    occurrence_counter: bool = False


@dataclass(frozen=True)
class Layout:
    """One header layout: chosen when the header has ``when_columns``; ``rename`` maps its aliases."""

    name: str
    when_columns: tuple[str, ...]
    rename: Mapping[str, str] = field(default_factory=dict)
    key_columns: tuple[str, ...] | None = None
    derived_key: DerivedKey | None = None


@dataclass(frozen=True)
class IncidentMapping:
    """How one source's columns map to canonical incidents (resolved from the typed config)."""

    id_column: str | None
    occurred_at: str
    columns: Mapping[str, str | tuple[str, ...]] = field(default_factory=dict)  # canonical -> source column(s)
    timestamp_formats: tuple[str, ...] = ("ISO8601",)
    source_timezone: str = "America/Chicago"
    city_timezone: str = "America/Chicago"
    updated_at: str | None = None
    reported_at: str | None = None
    is_arrest: str | FlagRule | None = None
    is_domestic: str | FlagRule | None = None
    is_shooting: str | FlagRule | None = None
    latitude: str | None = None
    longitude: str | None = None
    x: str | None = None
    y: str | None = None
    offense_code_column: str | None = None
    strip_leading_zeros: bool = True
    category_by_code: Mapping[str, str] = field(default_factory=dict)
    # Real-feed mechanics (issue 10); the defaults keep Chicago's behaviour.
    key_columns: tuple[str, ...] = ()  # composite key; () = (id_column,)
    derived_key: DerivedKey | None = None
    formats_by_field: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    offense_rules: OffenseRules | None = None
    group_column: str | None = None
    description_column: str | None = None
    placeholders: Mapping[str, tuple] = field(default_factory=lambda: {"x_coordinate": (0,), "y_coordinate": (0,)})
    count_column: str | None = None
    layouts: tuple[Layout, ...] = ()
    encodings: tuple[str, ...] = ("utf-8",)
    name: str = "default"

    @property
    def keys(self) -> tuple[str, ...]:
        return self.key_columns or ((self.id_column,) if self.id_column else ())

    @property
    def required_columns(self) -> list[str]:
        cols = [] if self.derived_key else list(self.keys)
        cols += [self.occurred_at] + [c for c in (self.offense_code_column, self.latitude, self.longitude) if c]
        return list(dict.fromkeys(cols))

    def for_header(self, header: list[str]) -> "IncidentMapping":
        """Return the mapping for a file with this header: the first matching layout applied, or self."""
        for lay in self.layouts:
            if all(c in header for c in lay.when_columns):
                keys = lay.key_columns or (() if lay.derived_key else self.keys)
                return replace(self, layouts=(lay,), name=lay.name, key_columns=tuple(keys),
                               id_column=keys[0] if keys else None,
                               derived_key=lay.derived_key or (None if keys else self.derived_key))
        return replace(self, layouts=())

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any], city_timezone: str, *, file: str | None = None,
                    slug: str = "<slug>") -> "IncidentMapping":
        """Build a mapping from a ``[sources.<slug>]`` table (one ConfigError line when it is wrong)."""
        return mapping_from_config(parse_mapped_source(dict(cfg), file=file, slug=slug), city_timezone)


def choose_layout(mapping: IncidentMapping, header: list[str]) -> tuple[IncidentMapping, dict[str, str]]:
    """Return the mapping for this header and the renames (header alias -> mapped name) to apply."""
    m = mapping.for_header(header)
    rename = dict(m.layouts[0].rename) if m.layouts else {}
    return m, rename


def _nulls(index: pd.Index, dtype: str = "str") -> pd.Series:
    if dtype == "str":
        return pd.Series(pd.array(pa.nulls(len(index), pa.large_string()), dtype="str"), index=index)
    return pd.Series(pd.NA if dtype in ("boolean", "Int64") else np.nan, index=index, dtype=dtype)


def _series(raw: pd.DataFrame, name: str | None) -> pd.Series:
    if name and name in raw.columns:
        return raw[name]
    return _nulls(raw.index)


def _field_text(raw: pd.DataFrame, source: str | tuple[str, ...] | None) -> pd.Series:
    if isinstance(source, tuple):
        return joined_text(raw, source, raw.index)
    return text(_series(raw, source))


def _flag_rule(value: str | FlagRule | None) -> FlagRule | None:
    return FlagRule(column=value) if isinstance(value, str) else value


def _incident_ids(raw: pd.DataFrame, out: pd.DataFrame, m: IncidentMapping) -> pd.Series:
    if m.derived_key:
        ids = hashed_key([out[f] for f in m.derived_key.fields], m.derived_key.prefix, raw.index)
        # The occurrence number needs the whole file: the batch step (incident_grain) completes it.
        return ids + COUNTER_MARK if m.derived_key.occurrence_counter else ids
    keys = m.keys
    if len(keys) == 1:
        return text(_series(raw, keys[0]))
    parts = [text(_series(raw, k)) for k in keys]
    joined = parts[0].str.cat(parts[1:], sep="|")
    # NOTE: a composite key with any part empty is no key: the row fails the not-null check.
    return joined.where(pd.concat(parts, axis=1).notna().all(axis=1), None).astype("str")


def _formats(m: IncidentMapping, name: str) -> tuple[str, ...]:
    return tuple(m.formats_by_field.get(name, m.timestamp_formats))


def _time(raw: pd.DataFrame, m: IncidentMapping, name: str) -> tuple[pd.Series, pd.Series | None]:
    """Return one timestamp field (city-local, placeholders missing) and which rows held a placeholder."""
    source = getattr(m, name)
    if not source or source not in raw.columns:
        return pd.Series(np.datetime64("NaT", "us"), index=raw.index, dtype="datetime64[us]"), None
    parsed = parse_timestamps(raw[source], _formats(m, name), m.source_timezone, m.city_timezone)
    if not m.placeholders.get(name):
        return parsed, None
    value = blank_placeholders(parsed, m.placeholders[name])
    return value, parsed.notna() & value.isna()


def _offense_fields(raw: pd.DataFrame, m: IncidentMapping) -> dict[str, pd.Series]:
    code_col = m.offense_code_column or m.columns.get("iucr")
    category = classify_offenses(
        _series(raw, code_col if isinstance(code_col, str) else None), m.category_by_code, m.strip_leading_zeros,
        m.offense_rules, _series(raw, m.group_column or _single(m.columns.get("primary_type"))),
        _series(raw, m.description_column or _single(m.columns.get("description"))))
    out = {"offense_category": category, "is_drug_offense": (category != "non_drug").astype("boolean"),
           "nibrs_code": nibrs_codes(category)}
    for flag in FLAG_FIELDS:
        rule = _flag_rule(getattr(m, flag))
        out[flag] = parse_flag(_series(raw, rule.column) if rule else None, rule, raw.index)
    return out


def standardize_incidents(raw: pd.DataFrame, mapping: IncidentMapping) -> pd.DataFrame:
    """Return canonical incident rows (one per input row, same index) plus ``raw_`` columns.

    The file's layout is chosen from ``raw``'s columns. Offense-row feeds also get
    ``offense_count`` (+1, or the count column's value). The ``raw_`` columns keep the source
    text of reinterpreted fields so validation can quarantine a row with the value it actually
    had; the loader drops them. Placeholders become missing before anything else reads them.
    A row whose date is a declared placeholder gets a ``quarantine_reason``.
    """
    m, rename = choose_layout(mapping, list(raw.columns))
    if rename:
        raw = raw.rename(columns=rename)
    idx, ph = raw.index, m.placeholders
    out: dict[str, pd.Series] = {c: blank_placeholders(_field_text(raw, m.columns.get(c)), ph.get(c, ()))
                                 for c in TEXT_FIELDS}
    out["source_area_id"] = out["source_area_id"].str.replace(r"\.0$", "", regex=True)
    out["occurred_at"], placeholder_date = _time(raw, m, "occurred_at")
    out["updated_at"], out["reported_at"] = _time(raw, m, "updated_at")[0], _time(raw, m, "reported_at")[0]
    out["incident_id"] = _incident_ids(raw, out, m)
    out.update(_offense_fields(raw, m))
    lat_raw, lon_raw = text(_series(raw, m.latitude)), text(_series(raw, m.longitude))
    out.update(_points(lat_raw, lon_raw, text(_series(raw, m.x)), text(_series(raw, m.y)), ph))
    out["neighborhood_id"] = _nulls(idx)
    out["geocode_method"] = out["geocode_precision"] = pd.Series("none", index=idx, dtype="str")
    out["snap_distance_m"] = _nulls(idx, "float64")
    out["n_offenses"] = pd.Series(1, index=idx, dtype="Int64")
    out["is_reversed"] = pd.Series(False, index=idx, dtype="boolean")
    cols = {c.name: out[c.name] if str(out[c.name].dtype) == PANDAS_DTYPES[c.type]
            else out[c.name].astype(PANDAS_DTYPES[c.type]) for c in INCIDENTS.columns}
    cols[OFFENSE_COUNT] = _counts(_series(raw, m.count_column)) if m.count_column else \
        pd.Series(1, index=idx, dtype="Int64")
    occurred = text(_series(raw, m.occurred_at))
    cols.update(raw_occurred_at=occurred, raw_latitude=lat_raw, raw_longitude=lon_raw,
                raw_updated_at=text(_series(raw, m.updated_at)))
    if placeholder_date is not None and placeholder_date.any():
        cols[QUARANTINE_REASON] = _nulls(idx).mask(placeholder_date, "occurred_at is a declared placeholder date "
                                                                     "(no date in the source)")
    return pd.DataFrame(cols, index=idx)


def _single(source: str | tuple[str, ...] | None) -> str | None:
    return source if isinstance(source, str) else None


def _counts(values: pd.Series) -> pd.Series:
    """Return the count column as integers; an empty or unreadable count is +1 (one offense)."""
    num = to_float(text(values))
    return pd.Series(np.where(np.isfinite(num), num, 1.0), index=values.index).round().astype("Int64")


def _points(lat_raw: pd.Series, lon_raw: pd.Series, x_raw: pd.Series, y_raw: pd.Series,
            ph: Mapping[str, tuple]) -> dict[str, pd.Series]:
    """Return latitude/longitude/x/y; a placeholder in either coordinate blanks the whole pair."""
    out = {}
    for a, b, ra, rb in (("latitude", "longitude", lat_raw, lon_raw), ("x_coordinate", "y_coordinate", x_raw, y_raw)):
        va, vb = to_float(ra), to_float(rb)
        pa_, pb_ = blank_placeholders(va, ph.get(a, ())), blank_placeholders(vb, ph.get(b, ()))
        hit = (pa_.isna() & va.notna()) | (pb_.isna() & vb.notna())
        out[a], out[b] = (pa_.mask(hit), pb_.mask(hit)) if hit.any() else (pa_, pb_)
    return out


# ---------------------------------------------------------------- from the typed config

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


def read_raw_csv(path: Path, *, mapping: IncidentMapping) -> Iterator[pa.RecordBatch]:
    """Yield the file's rows as Arrow batches of strings, as in the source, after checking the columns.

    The file's encoding is detected among ``mapping.encodings`` (a UTF-8 BOM is dropped) and
    the layout chosen from its header; both are recorded in each batch's schema metadata
    (``pulse.encoding``, ``pulse.bom``, ``pulse.layout``) so the landing manifest can keep them.
    """
    enc = detect_encoding(path, mapping.encodings)
    header = read_header(path, encoding=enc.codec)
    m, rename = choose_layout(mapping, header)
    if mapping.layouts and not m.layouts and not all(c in header for c in m.required_columns):
        names = ", ".join(f"{lay.name} ({', '.join(lay.when_columns)})" for lay in mapping.layouts)
        raise InputError(path, "header matches no configured layout", f"Layouts known: {names}; add a [[layouts]] "
                                                                      "entry for this header")
    check_columns(path, [rename.get(h, h) for h in header], m.required_columns)
    meta = {**enc.metadata, LAYOUT_META: m.name.encode()}
    for batch in iter_csv_batches(path, encoding=enc.codec):
        yield batch.replace_schema_metadata({**(batch.schema.metadata or {}), **meta})

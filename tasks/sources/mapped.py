"""Generic mapped incident adapter: a city's CSV or Socrata export -> canonical incidents.

Everything city-specific comes from a mapping (the ``[sources.<slug>]`` table of a city
config), so a new city is configuration, not code. The Chicago adapter uses the same core
with Chicago's mapping and quirks.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from schemas.base import PANDAS_DTYPES
from schemas.iucr_codes import NIBRS_BY_CATEGORY
from schemas.incidents import INCIDENTS, OFFENSE_CATEGORIES
from schemas.errors import ConfigError
from tasks.sources.csv_reader import check_columns, iter_csv_batches, read_header

# Canonical columns a mapping may fill from source columns (text values, stripped).
TEXT_FIELDS = (
    "case_number", "iucr", "primary_type", "description", "fbi_code", "location_description",
    "block", "beat", "district", "ward", "source_area_id",
)
RAW_COLUMNS = ("raw_occurred_at", "raw_latitude", "raw_longitude", "raw_updated_at")
TRUE_VALUES = {"true", "t", "y", "yes", "1"}
FALSE_VALUES = {"false", "f", "n", "no", "0"}


@dataclass(frozen=True)
class IncidentMapping:
    """How one source's columns map to canonical incidents."""

    id_column: str
    occurred_at: str
    columns: Mapping[str, str] = field(default_factory=dict)  # canonical -> source column
    timestamp_formats: tuple[str, ...] = ("ISO8601",)
    source_timezone: str = "America/Chicago"
    city_timezone: str = "America/Chicago"
    updated_at: str | None = None
    is_arrest: str | None = None
    is_domestic: str | None = None
    latitude: str | None = None
    longitude: str | None = None
    x: str | None = None
    y: str | None = None
    offense_code_column: str | None = None
    strip_leading_zeros: bool = True
    category_by_code: Mapping[str, str] = field(default_factory=dict)

    @property
    def required_columns(self) -> list[str]:
        cols = [self.id_column, self.occurred_at]
        cols += [c for c in (self.offense_code_column, self.latitude, self.longitude) if c]
        return list(dict.fromkeys(cols))

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any], city_timezone: str) -> "IncidentMapping":
        """Build a mapping from a ``[sources.<slug>]`` config table (see README: new city)."""
        try:
            cols = dict(cfg["columns"])
            ts = cfg.get("timestamps", {})
            coords = cfg.get("coordinates", {})
            off = cfg.get("offenses", {})
            strip = bool(off.get("strip_leading_zeros", True))
            by_code: dict[str, str] = {}
            for category in OFFENSE_CATEGORIES:
                for code in off.get(category, []):
                    key = str(code).strip().upper()
                    by_code[key.lstrip("0") if strip else key] = category
            unknown = set(off) - set(OFFENSE_CATEGORIES) - {"code_column", "strip_leading_zeros"}
            if unknown:
                raise ConfigError("city config [offenses]", f"unknown keys {sorted(unknown)}",
                                  f"Use only {', '.join(OFFENSE_CATEGORIES)}, code_column, strip_leading_zeros")
            occurred_at = cols.pop("occurred_at")
            updated_at = cols.pop("updated_at", None)
            is_arrest, is_domestic = cols.pop("is_arrest", None), cols.pop("is_domestic", None)
            stray = sorted(set(cols) - set(TEXT_FIELDS))
            if stray:
                raise ConfigError("city config [columns]", f"unknown canonical column(s) {stray}",
                                  f"Map only occurred_at, updated_at, is_arrest, is_domestic, {', '.join(TEXT_FIELDS)}")
            return cls(
                id_column=cfg["id_column"],
                occurred_at=occurred_at,
                updated_at=updated_at,
                is_arrest=is_arrest,
                is_domestic=is_domestic,
                columns=cols,
                timestamp_formats=tuple(ts.get("formats", ["ISO8601"])),
                source_timezone=ts.get("timezone", city_timezone),
                city_timezone=city_timezone,
                latitude=coords.get("latitude"),
                longitude=coords.get("longitude"),
                x=coords.get("x"),
                y=coords.get("y"),
                offense_code_column=off.get("code_column"),
                strip_leading_zeros=strip,
                category_by_code=by_code,
            )
        except KeyError as exc:
            raise ConfigError("city config", f"source mapping lacks key {exc}", "See README: onboarding a new city") from None


def parse_timestamps(values: pd.Series, formats: tuple[str, ...], source_tz: str, city_tz: str) -> pd.Series:
    """Return naive local (city time zone) timestamps; unparseable values become NaT."""
    text = values.astype("str").str.strip()
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[us]")
    todo = text.notna() & (text != "")
    for fmt in formats:
        if not todo.any():
            break
        # Values with an explicit offset ('Z', '+02:00') are instants; the rest are wall-clock times
        # in the source's zone. pandas refuses to parse the two kinds together, so split them.
        aware = todo & text.str.contains(r"(?:Z|[+-]\d{2}:?\d{2})$", regex=True, na=False)
        for part in (aware, todo & ~aware):
            if not part.any():
                continue
            if part is aware:
                parsed = pd.to_datetime(text[part], errors="coerce", utc=True, format=fmt)
                parsed = parsed.dt.tz_convert(city_tz).dt.tz_localize(None)
            else:
                parsed = pd.to_datetime(text[part], errors="coerce", format=fmt)
                if source_tz != city_tz:
                    parsed = parsed.dt.tz_localize(source_tz, ambiguous="NaT", nonexistent="NaT") \
                        .dt.tz_convert(city_tz).dt.tz_localize(None)
            ok = parsed.notna()
            out.loc[ok[ok].index] = parsed[ok].astype("datetime64[us]")
        todo = todo & ~out.notna()
    return out


def parse_bool(values: pd.Series) -> pd.Series:
    """Return a nullable boolean from true/false-like text."""
    text = values.astype("str").str.strip().str.lower()
    out = pd.Series(pd.NA, index=values.index, dtype="boolean")
    out[text.isin(TRUE_VALUES)] = True
    out[text.isin(FALSE_VALUES)] = False
    return out


def _text(values: pd.Series) -> pd.Series:
    s = values.astype("str").str.strip()
    return s.where(s != "", None).astype("str")


def to_float(values: pd.Series) -> pd.Series:
    """Return numbers parsed from text; unparseable text becomes NaN (the raw text is kept elsewhere)."""
    try:  # fast path: Arrow's cast when every value is numeric text
        arr = pa.array(values.array) if not isinstance(values.array, np.ndarray) else pa.array(values, from_pandas=True)
        return pd.Series(pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False), index=values.index, dtype="float64")
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return pd.to_numeric(values, errors="coerce").astype("float64")


def classify_offenses(codes: pd.Series, category_by_code: Mapping[str, str], strip_zeros: bool) -> pd.Series:
    norm = codes.astype("str").str.strip().str.upper()
    if strip_zeros:
        norm = norm.str.lstrip("0")
    return norm.map(category_by_code).fillna("non_drug").astype("str")


def standardize_incidents(raw: pd.DataFrame, mapping: IncidentMapping) -> pd.DataFrame:
    """Return canonical incidents (one row per input row, same index) plus ``raw_`` columns.

    The ``raw_`` columns keep the source text of reinterpreted fields so validation can
    quarantine a row with the value it actually had; the loader drops them.
    """
    n = len(raw)

    def col(name: str | None) -> pd.Series:
        if name and name in raw.columns:
            return raw[name]
        return pd.Series([None] * n, index=raw.index, dtype="str")

    out = pd.DataFrame(index=raw.index)
    out["incident_id"] = _text(col(mapping.id_column))
    for canon in TEXT_FIELDS:
        out[canon] = _text(col(mapping.columns.get(canon)))
    out["source_area_id"] = out["source_area_id"].str.replace(r"\.0$", "", regex=True)
    occurred = col(mapping.occurred_at)
    out["occurred_at"] = parse_timestamps(occurred, mapping.timestamp_formats, mapping.source_timezone, mapping.city_timezone)
    updated = col(mapping.updated_at)
    out["updated_at"] = parse_timestamps(updated, mapping.timestamp_formats, mapping.source_timezone, mapping.city_timezone)
    code_col = mapping.columns.get("iucr") or mapping.offense_code_column
    category = classify_offenses(col(mapping.offense_code_column or code_col), mapping.category_by_code,
                                 mapping.strip_leading_zeros)
    out["offense_category"] = category
    out["is_drug_offense"] = (category != "non_drug").astype("boolean")
    out["nibrs_code"] = category.map(NIBRS_BY_CATEGORY).astype("str")
    out["is_arrest"] = parse_bool(col(mapping.is_arrest))
    out["is_domestic"] = parse_bool(col(mapping.is_domestic))
    lat_raw, lon_raw = _text(col(mapping.latitude)), _text(col(mapping.longitude))
    out["latitude"] = to_float(lat_raw)
    out["longitude"] = to_float(lon_raw)
    out["x_coordinate"] = to_float(_text(col(mapping.x)))
    out["y_coordinate"] = to_float(_text(col(mapping.y)))
    # NOTE: Chicago publishes 0/0-like placeholders as empty; an x/y of 0 is never a real point.
    for c in ("x_coordinate", "y_coordinate"):
        out.loc[out[c] == 0, c] = np.nan
    out["neighborhood_id"] = pd.Series([None] * n, index=raw.index, dtype="str")
    out["geocode_method"] = pd.Series(["none"] * n, index=raw.index, dtype="str")
    out["geocode_precision"] = pd.Series(["none"] * n, index=raw.index, dtype="str")
    out["snap_distance_m"] = np.nan
    canon = out[INCIDENTS.column_names]
    for c in INCIDENTS.columns:
        if str(canon[c.name].dtype) != PANDAS_DTYPES[c.type]:
            canon[c.name] = canon[c.name].astype(PANDAS_DTYPES[c.type])
    canon = canon.copy()
    canon["raw_occurred_at"] = _text(occurred)
    canon["raw_latitude"] = lat_raw
    canon["raw_longitude"] = lon_raw
    canon["raw_updated_at"] = _text(updated)
    return canon


def read_raw_csv(path: Path, *, mapping: IncidentMapping) -> Iterator[pa.RecordBatch]:
    """Yield the file's rows as Arrow batches of strings after checking required columns."""
    check_columns(path, read_header(path), mapping.required_columns)
    yield from iter_csv_batches(path)

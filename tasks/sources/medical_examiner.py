"""Cook County Medical Examiner case archive: both export schemas -> canonical cases.

The county publishes the archive twice, with different schemas (``layout`` in config):

- ``hub``: the ArcGIS Hub CSV (``CASENUMBER, DEATH_DATE, OPIOID_RELATED, ...``). Dates are UTC
  (``2018/05/09 15:30:00+00``), flags ``Yes``/``No`` (``COLD_RELATED``/``HEAT_RELATED``/``LATINO``:
  ``YES``/``NO``), coordinates as lat/lon and Illinois State Plane X/Y, the Chicago community-area
  *name* (``chi_commarea``, ``OHARE`` for O'Hare) and ``last_edited_date`` per case.
- ``portal``: the Socrata export (``Case Number, Date of Death, Opioid Related, ...``). Dates are
  local (``05/09/2018 10:30:00 AM``), ``Opioid Related``/``Gun Related`` are ``true`` or empty
  (never ``false``), ``Latino`` ``true``/``false``; no edit time, no X/Y, no area name.

NOTE: the Hub file starts with a UTF-8 BOM; ``csv_reader.read_header`` strips it and the Arrow
reader skips the header line, so the first column is ``X``, not ``\\ufeffX``.
NOTE: one Hub row has the placeholder incident date ``9999/09/10 02:01:59+00``; the suite
quarantines it (raw text kept in ``raw_incident_at``).
NOTE: the 2018 portal export repeats ``ME2018-02609`` (OBJECTID 78994, manner blank; 108278,
NATURAL): within an export the row with the later edit time, then the higher OBJECTID, is kept
and the other is quarantined with the reason.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from schemas.errors import ConfigError
from schemas.medical_examiner import ME_CASES
from tasks.sources.adapter import QUARANTINE_REASON, Adapter
from tasks.sources.csv_reader import check_columns, iter_csv_batches, read_header
from tasks.sources.mapped import parse_timestamps, to_float

SLUG = "medical_examiner"
SUITE = "medical_examiner_cases"
TRUE_TEXT = {"true", "t", "yes", "y", "1"}
FALSE_TEXT = {"false", "f", "no", "n", "0"}
PLACEHOLDER_ZIPS = {"99999", "00000"}
NS_MIN, NS_MAX = pd.Timestamp.min.ceil("s"), pd.Timestamp.max.floor("s")
AGE_BANDS = ((0, 19, "0-19"), (20, 29, "20-29"), (30, 39, "30-39"), (40, 49, "40-49"), (50, 59, "50-59"),
             (60, 69, "60-69"), (70, 79, "70-79"), (80, 200, "80+"))
# Canonical text fields an export layout may fill (canonical -> source column).
TEXT_FIELDS = ("age_group", "sex", "race", "manner", "primary_cause", "primary_cause_line_a",
               "primary_cause_line_b", "primary_cause_line_c", "secondary_cause", "incident_city",
               "residence_city", "source_area_name", "source_ward")


@dataclass(frozen=True)
class ExportLayout:
    """Where one export schema keeps each field, and how it writes dates and flags."""

    case_number: str
    death_at: str
    incident_at: str
    age: str
    columns: Mapping[str, str]  # canonical text field -> source column
    flags: Mapping[str, str]  # canonical flag -> source column
    empty_is_false: tuple[str, ...] = ()  # flags whose empty cell means "no" (true/empty encoding)
    timestamp_formats: tuple[str, ...] = ("ISO8601",)
    source_timezone: str = "UTC"
    address: str | None = None
    incident_zip: str | None = None
    residence_zip: str | None = None
    latitude: str | None = None
    longitude: str | None = None
    x: str | None = None
    y: str | None = None
    edited_at: str | None = None
    object_id: str | None = None

    @property
    def required_columns(self) -> list[str]:
        return [self.case_number, self.death_at, self.flags["is_opioid_related"]]


HUB = ExportLayout(
    case_number="CASENUMBER", death_at="DEATH_DATE", incident_at="INCIDENT_DATE", age="AGE",
    columns={"age_group": "AGE_GROUP", "sex": "GENDER", "race": "RACE", "manner": "MANNER",
             "primary_cause": "PRIMARYCAUSE", "primary_cause_line_a": "PRIMARYCAUSE_LINEA",
             "primary_cause_line_b": "PRIMARYCAUSE_LINEB", "primary_cause_line_c": "PRIMARYCAUSE_LINEC",
             "secondary_cause": "SECONDARYCAUSE", "incident_city": "INCIDENT_CITY",
             "residence_city": "RESIDENCE_CITY", "source_area_name": "chi_commarea", "source_ward": "chi_ward"},
    flags={"is_opioid_related": "OPIOID_RELATED", "is_gun_related": "GUN_RELATED",
           "is_cold_related": "COLD_RELATED", "is_heat_related": "HEAT_RELATED",
           "is_covid_related": "COVID_RELATED", "is_latino": "LATINO"},
    timestamp_formats=("%Y/%m/%d %H:%M:%S+00",), source_timezone="UTC",
    address="INCIDENT_STREET", incident_zip="INCIDENT_ZIP", residence_zip="RESIDENCE_ZIP",
    latitude="latitude", longitude="longitude", x="X", y="Y", edited_at="last_edited_date", object_id="OBJECTID",
)
PORTAL = ExportLayout(
    case_number="Case Number", death_at="Date of Death", incident_at="Date of Incident", age="Age",
    columns={"sex": "Gender", "race": "Race", "manner": "Manner of Death", "primary_cause": "Primary Cause",
             "primary_cause_line_a": "Primary Cause Line A", "primary_cause_line_b": "Primary Cause Line B",
             "primary_cause_line_c": "Primary Cause Line C", "secondary_cause": "Secondary Cause",
             "incident_city": "Incident City", "residence_city": "Residence City"},
    flags={"is_opioid_related": "Opioid Related", "is_gun_related": "Gun Related",
           "is_cold_related": "Cold Related", "is_heat_related": "Heat Related", "is_latino": "Latino"},
    empty_is_false=("is_opioid_related", "is_gun_related"),
    timestamp_formats=("%m/%d/%Y %I:%M:%S %p", "ISO8601"), source_timezone="America/Chicago",
    address="Incident Address", incident_zip="Incident Zip Code", residence_zip="Residence_Zip",
    latitude="latitude", longitude="longitude", object_id="OBJECTID",
)
LAYOUTS = {"hub": HUB, "portal": PORTAL}


@dataclass(frozen=True)
class ExportConfig:
    """One ``[sources.<name>]`` table for an examiner export (see ``from_config``)."""

    layout: ExportLayout
    label: str
    city_timezone: str = "America/Chicago"
    exported_at: pd.Timestamp | None = None  # local; the version of rows without an edit time
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any], city_timezone: str) -> ExportConfig:
        """Build from a config table: ``layout`` (hub|portal), ``label``, ``exported_at`` (ISO
        local time; required when the layout has no edit-time column), optional ``timezone``
        (the export's own zone) and ``columns`` (canonical -> source column overrides)."""
        known = {"adapter", "layout", "label", "exported_at", "timezone", "columns", "files", "file",
                 "provisional_months"}
        unknown = sorted(set(cfg) - known)
        if unknown:
            raise ConfigError("city config [sources.medical_examiner]", f"unknown keys {unknown}",
                              f"Use only {', '.join(sorted(known))}")
        name = cfg.get("layout")
        if name not in LAYOUTS:
            raise ConfigError("city config [sources.medical_examiner]", f"layout {name!r} is not known",
                              f"Use layout = one of {sorted(LAYOUTS)}")
        layout = LAYOUTS[name]
        if "timezone" in cfg:
            layout = replace(layout, source_timezone=str(cfg["timezone"]))
        if cfg.get("columns"):
            layout = _override_columns(layout, dict(cfg["columns"]))
        exported = cfg.get("exported_at")
        if exported is None and layout.edited_at is None:
            raise ConfigError(f"city config [sources] label {cfg.get('label')!r}",
                              "exported_at is required for an export without an edit-time column",
                              "Set exported_at = \"YYYY-MM-DDTHH:MM:SS\" (local time of the export)")
        return cls(layout=layout, label=str(cfg.get("label") or name), city_timezone=city_timezone,
                   exported_at=pd.Timestamp(exported) if exported is not None else None)


def _override_columns(layout: ExportLayout, overrides: dict[str, str]) -> ExportLayout:
    scalar = {k: v for k, v in overrides.items() if k in ExportLayout.__dataclass_fields__ and k not in ("columns", "flags")}
    cols = {**layout.columns, **{k: v for k, v in overrides.items() if k in TEXT_FIELDS}}
    flags = {**layout.flags, **{k: v for k, v in overrides.items() if k in layout.flags or k.startswith("is_")}}
    stray = sorted(set(overrides) - set(scalar) - set(cols) - set(flags))
    if stray:
        raise ConfigError("city config [columns]", f"unknown canonical column(s) {stray}",
                          "Map only the fields of schemas/medical_examiner.py")
    return replace(layout, columns=cols, flags=flags, **scalar)


def read_raw(path: Path, *, layout: ExportLayout) -> Iterator[pa.RecordBatch]:
    """Yield an export (CSV or CSV.gz, BOM or not) as Arrow batches of text after checking its columns."""
    check_columns(path, read_header(path), layout.required_columns)
    yield from iter_csv_batches(Path(path))


def _text(values: pd.Series) -> pd.Series:
    s = values.astype("str").str.strip()
    return s.mask(s == "").astype("str")


def _zip5(values: pd.Series) -> pd.Series:
    z = values.astype("str").str.strip().str.extract(r"^(\d{5})(?:\.0+|-\d{4})?$", expand=False)
    return z.mask(z.isin(PLACEHOLDER_ZIPS)).astype("str")


def map_flag(values: pd.Series, empty_is_false: bool) -> tuple[pd.Series, pd.Series]:
    """Return (nullable boolean, unknown text) for a flag column of any encoding.

    ``Yes``/``No``, ``YES``/``NO``, ``true``/``false``, ``Y``/``N``, ``1``/``0`` all map; an empty
    cell is False where the export writes "no" as empty (``true``/empty), else null. The second
    series holds the text of values that are none of these (null elsewhere).
    """
    text = values.astype("str").str.strip().str.lower()
    out = pd.Series(pd.NA, index=values.index, dtype="boolean")
    out[text.isin(TRUE_TEXT)] = True
    out[text.isin(FALSE_TEXT)] = False
    empty = text.isna() | (text == "")
    if empty_is_false:
        out[empty] = False
    unknown = values.astype("str").where(~empty & out.isna())
    return out, unknown


def age_groups(age: pd.Series) -> pd.Series:
    """Return the examiner's age band per age (``Unknown`` where the age is missing)."""
    out = pd.Series("Unknown", index=age.index, dtype="str")
    for lo, hi, label in AGE_BANDS:
        out[(age >= lo) & (age <= hi)] = label
    return out


def _flags(raw: pd.DataFrame, col, layout: ExportLayout) -> tuple[dict[str, pd.Series], pd.Series]:
    flags, reasons = {}, pd.Series(pd.NA, index=raw.index, dtype="str")
    for canon in ("is_opioid_related", "is_gun_related", "is_cold_related", "is_heat_related",
                  "is_covid_related", "is_latino"):
        source = layout.flags.get(canon)
        flags[canon], unknown = map_flag(col(source), canon in layout.empty_is_false)
        bad = unknown.notna() & reasons.isna()
        reasons[bad] = f"flag {source} has an unknown value '" + unknown[bad] + "' (expected Yes/No, true/false or empty)"
    return flags, reasons


def _duplicate_reasons(case: pd.Series, edited: pd.Series, object_id: pd.Series) -> pd.Series:
    """Reason per row that repeats an earlier-or-equal version of a case number in the same export."""
    order = pd.DataFrame({"case": case, "edited": edited, "oid": to_float(object_id), "pos": np.arange(len(case))},
                         index=case.index)
    ranked = order.dropna(subset=["case"]).sort_values(["case", "edited", "oid", "pos"], na_position="first")
    losers = ranked[ranked.duplicated("case", keep="last")]
    kept = ranked.drop_duplicates("case", keep="last").set_index("case")["oid"]
    out = pd.Series(pd.NA, index=case.index, dtype="str")
    for idx, row in losers.iterrows():
        kept_oid = kept.get(row["case"])
        out[idx] = (f"case number {row['case']} repeats in this export; the row with the later edit time "
                    f"(then higher OBJECTID{'' if pd.isna(kept_oid) else f', {kept_oid:.0f}'}) is kept")
    return out


def standardize_cases(raw: pd.DataFrame, config: ExportConfig) -> pd.DataFrame:
    """Return canonical cases, one row per raw row (same index), plus ``raw_*`` text, ``address``
    (for the geocoder only) and ``quarantine_reason`` (empty case number, unknown flag text, a
    case number repeated within the export)."""
    layout = config.layout
    n = len(raw)

    def col(name: str | None) -> pd.Series:
        if name and name in raw.columns:
            return raw[name]
        return pd.Series([None] * n, index=raw.index, dtype="str")

    def stamps(name: str | None) -> pd.Series:
        parsed = parse_timestamps(col(name), layout.timestamp_formats, layout.source_timezone, config.city_timezone)
        # NOTE: the placeholder 9999/09/10 parses, but validation compares datetimes as epoch
        # nanoseconds (ending 2262); such a date becomes null and the suite judges the raw text.
        return parsed.mask((parsed < NS_MIN) | (parsed > NS_MAX))

    out = pd.DataFrame(index=raw.index)
    out["case_number"] = _text(col(layout.case_number)).str.upper()
    out["export_label"] = pd.Series(config.label, index=raw.index, dtype="str")
    out["death_at"] = stamps(layout.death_at)
    out["death_date"] = out["death_at"].dt.normalize()
    out["incident_at"] = stamps(layout.incident_at)
    out["age"] = pd.to_numeric(_text(col(layout.age)), errors="coerce").round().astype("Int64")
    for canon in TEXT_FIELDS:
        out[canon] = _text(col(layout.columns.get(canon)))
    if "age_group" not in layout.columns:
        out["age_group"] = age_groups(out["age"])
    out["incident_city"] = out["incident_city"].str.upper()
    out["source_area_name"] = out["source_area_name"].str.upper()
    out["source_area_id"] = pd.Series(pd.NA, index=raw.index, dtype="str")
    flags, flag_reasons = _flags(raw, col, layout)
    for canon, values in flags.items():
        out[canon] = values
    out["incident_zip"] = _zip5(col(layout.incident_zip))
    out["residence_zip"] = _zip5(col(layout.residence_zip))
    out["latitude"], out["longitude"] = to_float(_text(col(layout.latitude))), to_float(_text(col(layout.longitude)))
    out["x_coordinate"], out["y_coordinate"] = to_float(_text(col(layout.x))), to_float(_text(col(layout.y)))
    for c in ("x_coordinate", "y_coordinate"):  # NOTE: 0 is an empty placeholder, never a real State Plane point
        out.loc[out[c] == 0, c] = np.nan
    edited = stamps(layout.edited_at)
    if config.exported_at is not None:
        edited = edited.fillna(config.exported_at)
    out["edited_at"] = edited
    out["neighborhood_id"] = pd.Series(pd.NA, index=raw.index, dtype="str")
    out["geocode_method"] = pd.Series("none", index=raw.index, dtype="str")
    out["geocode_precision"] = pd.Series("none", index=raw.index, dtype="str")
    out["snap_distance_m"] = np.nan
    return _with_raw_text(ME_CASES.coerce(out), col, layout, flag_reasons)


def _with_raw_text(canon: pd.DataFrame, col, layout: ExportLayout, flag_reasons: pd.Series) -> pd.DataFrame:
    """Add the ``raw_*`` source text, the ``address`` for the geocoder and ``quarantine_reason``."""
    canon = canon.copy()
    for name, source in (("raw_death_at", layout.death_at), ("raw_incident_at", layout.incident_at),
                         ("raw_age", layout.age), ("raw_latitude", layout.latitude),
                         ("raw_longitude", layout.longitude), ("raw_edited_at", layout.edited_at),
                         ("address", layout.address)):
        canon[name] = _text(col(source))
    reason = pd.Series(pd.NA, index=canon.index, dtype="str")
    reason[canon["case_number"].isna()] = f"case number ({layout.case_number}) is empty"
    reason = reason.fillna(flag_reasons).fillna(
        _duplicate_reasons(canon["case_number"], canon["edited_at"], col(layout.object_id)))
    canon[QUARANTINE_REASON] = reason.astype("str")
    return canon


def suite_parameters(now: pd.Timestamp, earliest: str = "2014-01-01",
                     bbox: tuple[float, float, float, float] = (-88.30, 41.45, -87.50, 42.20)) -> dict:
    """Return ``expectations/medical_examiner_cases.json`` parameters: date range and the
    coordinate box (lon_min, lat_min, lon_max, lat_max; default: Cook County with a margin)."""
    ts = pd.Timestamp(now)
    ts = ts.tz_localize(None) if ts.tzinfo is not None else ts
    return {"earliest_date": pd.Timestamp(earliest).to_pydatetime(), "now": ts.to_pydatetime(),
            "lon_min": bbox[0], "lat_min": bbox[1], "lon_max": bbox[2], "lat_max": bbox[3]}


def medical_examiner_adapter(cfg: Mapping[str, Any], city_timezone: str, now: pd.Timestamp | None = None) -> Adapter:
    """Return the ``Adapter`` for one export's config table (``layout = "hub"`` or ``"portal"``).

    ``geocoder`` is ``points``; the feed's geocode step is ``tasks.geocode.case_locations.case_geocoder``
    (points, then the source's area name, then the offline address geocoder and ZIP shares).
    """
    config = ExportConfig.from_config(cfg, city_timezone)
    return Adapter(
        slug=SLUG, schema=ME_CASES, suite=SUITE,
        read_raw=partial(read_raw, layout=config.layout),
        to_standard=partial(standardize_cases, config=config),
        # The street of death and the residence locate a person; quarantine shows the rest of the row.
        sensitive_columns=tuple(c for c in (config.layout.address, config.layout.residence_zip,
                                            config.layout.columns.get("residence_city")) if c),
        geocoder="points",
        suite_parameters=suite_parameters(now if now is not None else pd.Timestamp.now()),
    )

"""Chicago Health Atlas "Data Download - Community areas" files -> survey indicator rows.

Layout (one wide CSV per download): row 1 holds ``Layer, Name, GEOID, Population[, Longitude,
Latitude]`` and one column per indicator, named ``<CODE>_<period>`` (``HCSNSP_2021-2022``,
``POV_2018-2022``, ``SVI_2020``); then description rows (``Layer`` = ``(Indicator name)``,
``(Definition)``, ``(Citation)``, ``---``, or one unlabelled row of indicator names); then one row
per community area (``Layer`` = ``Community area``, ``GEOID`` = area number 1-77, title-case
``Name`` with ``O'Hare``).

``read_raw`` turns the grid into one text row per (area, indicator) cell, carrying the indicator
name, definition and citation from the description rows and, where the download publishes them,
companion columns for the interval and sample base (``<column>_lci``/``_lower``,
``_uci``/``_upper``, ``_n``/``_sample_size``, any case): every published cell is kept once.
NOTE: the 2021-2023 downloads publish no intervals or sample sizes; ``HCS*`` codes without the
``P`` are weighted counts of adults rounded to the hundred, not sample sizes.
NOTE: a blank estimate is a suppressed one (the Atlas blanks small samples); it loads with
``is_suppressed`` and a null estimate.
"""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from schemas.community_voice import SURVEY_INDICATORS
from schemas.errors import InputError
from tasks.geocode.area_names import match_area_names
from tasks.sources.adapter import QUARANTINE_REASON, Adapter
from tasks.sources.mapped import to_float

SLUG = "community_survey"
SUITE = "survey_indicators"
ID_COLUMNS = ("Layer", "Name", "GEOID")
FIXED_COLUMNS = (*ID_COLUMNS, "Population", "Longitude", "Latitude")
DATA_LAYER = "community area"
COMPANIONS = {"ci_lower": ("_lci", "_lower"), "ci_upper": ("_uci", "_upper"), "sample_size": ("_n", "_sample_size")}
RAW_FIELDS = ("source_file", "area_layer", "area_name", "geoid", "column", "value", "indicator_name",
              "definition", "citation", "ci_lower", "ci_upper", "sample_size")
HCS_PREFIX = "HCS"
HCS_PROGRAM = "Healthy Chicago Survey"
_CODE_PERIOD = re.compile(r"^(?P<code>[A-Za-z][A-Za-z0-9-]*?)_(?P<start>\d{4})(?:-(?P<end>\d{4}))?$")


def _read_rows(path: Path, encoding: str) -> list[list[str]]:
    if not path.exists():
        raise InputError(path, "file not found", "Check the data directory setting (PULSE_DATA_DIR)")
    try:
        text = path.read_bytes().decode(encoding)
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise InputError(f"{path}:{line}", f"row {line} has bytes that are not {encoding}",
                         "Re-save the file as UTF-8 (e.g. iconv -f cp1252 -t utf-8)") from None
    rows = [r for r in csv.reader(io.StringIO(text)) if any(c.strip() for c in r)]
    if not rows:
        raise InputError(path, "file is empty", "Re-download the Health Atlas file")
    return rows


def _companion_of(column: str, header: set[str]) -> tuple[str, str] | None:
    low = column.lower()
    for field, suffixes in COMPANIONS.items():
        for suffix in suffixes:
            if low.endswith(suffix) and column[: -len(suffix)] in header:
                return field, column[: -len(suffix)]
    return None


def read_raw(path: Path, encoding: str = "utf-8-sig") -> Iterator[pa.RecordBatch]:
    """Yield one Arrow batch of text: one row per (community-area row, indicator column) cell."""
    path = Path(path)
    rows = _read_rows(path, encoding)
    header = [h.strip() for h in rows[0]]
    missing = [c for c in ID_COLUMNS if c not in header]
    if missing:
        raise InputError(path, f"column '{missing[0]}' is missing from the header",
                         "Use an unchanged Health Atlas 'Data Download - Community areas' file")
    width = len(header)
    ragged = next((i for i, r in enumerate(rows[1:], start=2) if len(r) != width), None)
    if ragged is not None:
        raise InputError(f"{path}:{ragged}", f"row {ragged} has {len(rows[ragged - 1])} fields, the header {width}",
                         "Check the delimiter and quoting; the file must be comma-separated")
    pos = {h: i for i, h in enumerate(header)}
    companions = {c: _companion_of(c, set(header)) for c in header}
    indicators = [c for c in header if c not in FIXED_COLUMNS and companions[c] is None]
    described: dict[str, dict[str, str]] = {"indicator_name": {}, "definition": {}, "citation": {}}
    data = []
    for r in rows[1:]:
        layer = r[pos["Layer"]].strip()
        if layer.lower() == DATA_LAYER:
            data.append(r)
            continue
        kind = {"(definition)": "definition", "(citation)": "citation"}.get(layer.lower(), "indicator_name")
        if layer in ("---",):
            continue
        for c in indicators:
            if r[pos[c]].strip():
                described[kind].setdefault(c, r[pos[c]].strip())
    if not data:
        raise InputError(path, "file has no 'Community area' rows", "Download the community-area layer of the Atlas")
    by_target = {(f, base): c for c, m in companions.items() if m for f, base in [m]}
    cols: dict[str, list] = {f: [] for f in RAW_FIELDS}
    for r in data:
        for c in indicators:
            cell = {"source_file": path.name, "area_layer": r[pos["Layer"]], "area_name": r[pos["Name"]],
                    "geoid": r[pos["GEOID"]], "column": c, "value": r[pos[c]],
                    **{k: described[k].get(c) for k in described}}
            for field in COMPANIONS:
                comp = by_target.get((field, c))
                cell[field] = r[pos[comp]] if comp else None
            for f in RAW_FIELDS:
                v = cell[f]
                cols[f].append(None if v is None or str(v).strip() == "" else str(v))
    table = pa.table({f: pa.array(v, type=pa.string()) for f, v in cols.items()})
    yield from table.to_batches()


def _measure(name: pd.Series, code: pd.Series) -> pd.Series:
    text = name.fillna("").str.lower()
    out = pd.Series("value", index=name.index, dtype="str")
    out[text.str.contains(r"index|percentile", regex=True)] = "index"
    out[text.str.contains(r"\bper 1(?:0|00),?000\b|\brate \(per", regex=True)] = "rate"
    out[text.str.contains(r"count", regex=False)] = "count"
    out[text.str.contains(r"\(%|percent", regex=True) | (code.str.startswith(HCS_PREFIX) & code.str.endswith("P")
                                                         & (text == ""))] = "percent"
    return out


def standardize_indicators(raw: pd.DataFrame) -> pd.DataFrame:
    """Return canonical indicator rows, one per raw cell row (same index), plus ``raw_estimate``,
    ``raw_geoid`` and ``quarantine_reason`` (a column name without a ``_<year>[-<year>]`` period)."""
    text = {c: raw[c].astype("str").str.strip() if c in raw else pd.Series(pd.NA, index=raw.index, dtype="str")
            for c in RAW_FIELDS}
    parts = text["column"].str.extract(_CODE_PERIOD)
    code = parts["code"].str.upper().astype("str")
    start = pd.to_numeric(parts["start"], errors="coerce").astype("Int64")
    end = pd.to_numeric(parts["end"].fillna(parts["start"]), errors="coerce").astype("Int64")
    geoid = text["geoid"].str.replace(r"\.0+$", "", regex=True)
    citation = text["citation"]
    # NOTE: CHAVQOS (loneliness, 2021-2022) is a Healthy Chicago Survey item without the HCS prefix.
    is_hcs = code.str.startswith(HCS_PREFIX).fillna(False) | citation.str.contains(HCS_PROGRAM, regex=False).fillna(False)
    program = pd.Series(np.where(is_hcs, HCS_PROGRAM, citation.fillna("Chicago Health Atlas")), index=raw.index, dtype="str")
    label = (parts["start"].fillna("") + np.where(parts["end"].notna(), "-" + parts["end"].fillna(""), "")).astype("str")
    out = pd.DataFrame({
        "indicator_row_id": (code.fillna(text["column"]) + "|" + label + "|" + geoid.fillna("")).astype("str"),
        "indicator_code": code.fillna(text["column"]),
        "indicator_name": text["indicator_name"],
        "program": program,
        "is_survey": (program == HCS_PROGRAM).astype("boolean"),
        "measure": _measure(text["indicator_name"], code.fillna("")),
        "period_label": label.where(label != "", None),
        "period_start_year": start,
        "period_end_year": end,
        "neighborhood_id": geoid,
        "source_area_name": text["area_name"],
        "estimate": to_float(text["value"]),
        "ci_lower": to_float(text["ci_lower"]),
        "ci_upper": to_float(text["ci_upper"]),
        "sample_size": pd.to_numeric(text["sample_size"], errors="coerce").round().astype("Int64"),
        "is_suppressed": text["value"].isna().astype("boolean"),
        "source_file": text["source_file"],
    }, index=raw.index)
    canon = SURVEY_INDICATORS.coerce(out)
    canon["raw_estimate"] = text["value"]
    canon["raw_geoid"] = text["geoid"]
    reason = pd.Series(pd.NA, index=raw.index, dtype="str")
    no_period = parts["code"].isna()
    reason[no_period] = "column '" + text["column"][no_period].fillna("") + \
        "' is not <CODE>_<year> or <CODE>_<year>-<year>; the period is unknown"
    canon[QUARANTINE_REASON] = reason
    return canon


def survey_area_step(neighborhoods: pd.DataFrame) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """Return a ``FeedSpec.geocode`` function: checks each row's GEOID against its area name.

    The name (``O'Hare``, title case) is matched to the boundary file (``match_area_names``); a
    row whose GEOID is not a boundary id, or whose name names another area, gets a
    ``quarantine_reason``. Rows whose name matches nothing keep their GEOID (reported by
    ``tasks.geocode.area_names.unmatched_names``).
    """
    known = set(neighborhoods["neighborhood_id"].astype(str))

    def check(frame: pd.DataFrame) -> pd.DataFrame:
        out = frame.copy()
        matched = match_area_names(out["source_area_name"], neighborhoods)["neighborhood_id"]
        reason = pd.Series(pd.NA, index=out.index, dtype="str")
        unknown = ~out["neighborhood_id"].isin(known)
        reason[unknown] = "GEOID '" + out.loc[unknown, "neighborhood_id"].fillna("") + "' is not a community area number"
        clash = ~unknown & matched.notna() & (matched != out["neighborhood_id"])
        reason[clash] = ("area name '" + out.loc[clash, "source_area_name"] + "' is area " + matched[clash]
                         + " in the boundary file, but its GEOID is " + out.loc[clash, "neighborhood_id"])
        prior = out[QUARANTINE_REASON] if QUARANTINE_REASON in out else pd.Series(pd.NA, index=out.index, dtype="str")
        out[QUARANTINE_REASON] = prior.fillna(reason).astype("str")
        return out

    return check


ADAPTER = Adapter(slug=SLUG, schema=SURVEY_INDICATORS, suite=SUITE, read_raw=read_raw,
                  to_standard=standardize_indicators, geocoder="area_name")

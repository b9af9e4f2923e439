"""The generic mapped adapter, driven only by a city config, matches the Chicago adapter."""
from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from schemas.incidents import INCIDENTS
from schemas.errors import ConfigError
from tasks.sources import police_chicago
from schemas.city_config import parse_city_config
from tasks.sources.catalog import SOURCE_MODELS
from tasks.sources.incident_adapters import incident_adapter
from tasks.sources.mapped_config import MappedSourceConfig
from tasks.sources.adapter import Adapter
from tasks.sources.incident_adapters import mapped_adapter
from tasks.sources.mapped import IncidentMapping, parse_timestamps, standardize_incidents
from tasks.sources.mapped_config import parse_mapped_source

REPO = Path(__file__).resolve().parents[3]


def generic_config() -> dict:
    with open(REPO / "config" / "chicago_generic.toml", "rb") as fh:
        return tomllib.load(fh)


def test_generic_adapter_gives_the_same_canonical_rows(data_dir):
    cfg = generic_config()
    path = data_dir / cfg["sources"]["police_generic"]["files"][0]
    generic = incident_adapter(MappedSourceConfig.model_validate(cfg["sources"]["police_generic"]),
                               cfg["city"]["timezone"], slug="police_generic")
    a = police_chicago.to_standard(pa.Table.from_batches(list(police_chicago.read_raw(path))).to_pandas())
    b = generic.to_standard(pa.Table.from_batches(list(generic.read_raw(path))).to_pandas())
    assert len(a) == 1730
    pd.testing.assert_frame_equal(INCIDENTS.coerce(a), INCIDENTS.coerce(b))


def test_projected_only_city_and_utc_timestamps():
    raw = pd.DataFrame({"id": ["a1", "a2"], "when": ["2017-07-01T05:30:00Z", "2017-01-01T06:00:00Z"],
                        "code": ["35A", "13A"], "x": ["1176000", "1160000"], "y": ["1900000", "1860000"]}, dtype="str")
    mapping = IncidentMapping.from_config({
        "id_column": "id", "columns": {"occurred_at": "when", "iucr": "code"},
        "timestamps": {"formats": ["ISO8601"], "timezone": "UTC"},
        "coordinates": {"x": "x", "y": "y", "xy_crs": "EPSG:3435"},
        "offenses": {"code_column": "code", "strip_leading_zeros": False, "possession": ["35A"]},
    }, "America/Chicago")
    std = standardize_incidents(raw, mapping)
    assert list(std["occurred_at"]) == [pd.Timestamp("2017-07-01 00:30"), pd.Timestamp("2017-01-01 00:00")]
    assert list(std["offense_category"]) == ["possession", "non_drug"]
    assert std["latitude"].isna().all() and std["x_coordinate"].notna().all()


def test_bad_mapping_is_a_config_error():
    with pytest.raises(ConfigError) as e:
        IncidentMapping.from_config({"columns": {"occurred_at": "d"}}, "America/Chicago")
    assert "missing key 'incident_key' (or id_column)" in str(e.value)
    with pytest.raises(ConfigError):
        IncidentMapping.from_config({"id_column": "i", "columns": {"occurred_at": "d"}, "offenses": {"posession": []}},
                                    "America/Chicago")
    with pytest.raises(ConfigError):
        cfg = generic_config()
        cfg["sources"]["police_generic"]["adapter"] = "nope"
        parse_city_config(cfg, REPO / "config" / "chicago_generic.toml", SOURCE_MODELS)


@pytest.mark.parametrize("text,expected", [
    ("01/03/2016 11:57:00 PM", "2016-01-03 23:57:00"),
    ("2016-01-03T23:57:00.000", "2016-01-03 23:57:00"),
    ("2016-02-30T10:00:00", None),
    ("garbage", None),
    ("", None),
], ids=["portal-csv", "soda-iso", "impossible-date", "garbage", "empty"])
def test_timestamp_formats(text, expected):
    got = parse_timestamps(pd.Series([text], dtype="str"), ("%m/%d/%Y %I:%M:%S %p", "ISO8601"),
                           "America/Chicago", "America/Chicago")[0]
    assert (pd.isna(got) if expected is None else got == pd.Timestamp(expected))


def test_the_factory_returns_the_adapter_face():
    cfg = generic_config()
    adapter = mapped_adapter(parse_mapped_source(cfg["sources"]["police_generic"], file="chicago_generic.toml",
                                                 slug="police_generic"), slug="police_generic",
                             city_timezone=cfg["city"]["timezone"])
    assert isinstance(adapter, Adapter) and adapter.schema is INCIDENTS and adapter.suite == "police_incidents"
    assert adapter.geocoder == "points" and adapter.xy_crs == "EPSG:3435"
    assert adapter.to_incidents is None  # one row per incident: the batch path needs no grain step


def reference_parse(text: str, formats) -> pd.Timestamp:
    """pandas alone, value by value: what the Arrow fast path must reproduce."""
    for fmt in formats:
        got = pd.to_datetime(pd.Series([text]), format=fmt, errors="coerce")[0]
        if pd.notna(got):
            return got
    return pd.NaT


def test_arrow_fast_path_parses_exactly_like_pandas():
    rng = np.random.default_rng(10)
    values = []
    for _ in range(400):
        y, mo, d, h, mi, s = (int(rng.integers(1999, 2024)), int(rng.integers(1, 13)), int(rng.integers(1, 33)),
                              int(rng.integers(0, 25)), int(rng.integers(0, 61)), int(rng.integers(0, 62)))
        values += [f"{mo:02d}/{d:02d}/{y} {h % 12 or 12:02d}:{mi:02d}:{s:02d} {'AM' if h < 12 else 'PM'}",
                   f"{mo}/{d}/{y} {h}:{mi:02d}", f"{mo}/{d}/{y % 100:02d} {h}:{mi:02d}", f"{y}-{mo:02d}"]
    values += ["", " ", "garbage", "1/1/2006 0:01 extra", "13/01/2016 10:00", "00/10/2016 1:00"]
    formats = ("%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %H:%M", "%m/%d/%y %H:%M", "%Y-%m")
    got = parse_timestamps(pd.Series(values, dtype="str"), formats, "America/Chicago", "America/Chicago")
    expected = [reference_parse(v, formats) for v in values]
    mismatches = [(v, g, e) for v, g, e in zip(values, got, expected) if not (pd.isna(g) and pd.isna(e)) and g != e]
    assert mismatches == []
    assert got.notna().sum() > 800  # most are valid; the impossible ones (day 32, hour 24, 02/30) are NaT


def test_duplicate_key_advice_names_the_settings():
    cfg = generic_config()
    adapter = mapped_adapter(parse_mapped_source(cfg["sources"]["police_generic"], file="x", slug="police_generic"),
                             slug="police_generic", city_timezone="America/Chicago")
    advice = adapter.duplicate_key_advice()
    assert "[sources.police_generic.offense_rows]" in advice and "incident_key = ['ID', '<column>']" in advice

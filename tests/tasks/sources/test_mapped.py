"""The generic mapped adapter, driven only by a city config, matches the Chicago adapter."""
from __future__ import annotations

import tomllib
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from schemas.incidents import INCIDENTS
from schemas.errors import ConfigError
from tasks.sources import police_chicago
from tasks.sources.incident_adapters import incident_adapter
from tasks.sources.mapped import IncidentMapping, parse_timestamps, standardize_incidents

REPO = Path(__file__).resolve().parents[3]


def generic_config() -> dict:
    with open(REPO / "config" / "chicago_generic.toml", "rb") as fh:
        return tomllib.load(fh)


def test_generic_adapter_gives_the_same_canonical_rows(data_dir):
    cfg = generic_config()
    path = data_dir / cfg["sources"]["police_generic"]["files"][0]
    generic = incident_adapter(cfg["sources"]["police_generic"], cfg["city"]["timezone"])
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
    assert "id_column" in str(e.value)
    with pytest.raises(ConfigError):
        IncidentMapping.from_config({"id_column": "i", "columns": {"occurred_at": "d"}, "offenses": {"posession": []}},
                                    "America/Chicago")
    with pytest.raises(ConfigError):
        incident_adapter({"adapter": "nope"}, "America/Chicago")


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

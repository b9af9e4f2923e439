"""Treatment facility listings (three real files, Chicago only) and nearest-facility distances."""
from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point

from schemas.treatment import FACILITIES
from schemas.errors import InputError
from tasks.sources.treatment_facilities import (
    facility_ids,
    nearest_facility_distance,
    read_facilities,
    to_standard,
)

US_FOOT_M = 0.3048006096012192


@pytest.fixture(scope="module")
def raw(data_dir):
    return read_facilities(data_dir)


@pytest.fixture(scope="module")
def facilities(raw):
    return to_standard(raw)


def test_chicago_listings_of_each_source(raw):
    # PROVENANCE.md: 178 locator and 33 OTP listings in Chicago; the methadone list is all Chicago.
    assert raw["source"].value_counts().to_dict() == {"samhsa_locator": 178, "samhsa_otp": 33, "methadone_clinics": 27}
    assert raw["city"].str.upper().eq("CHICAGO").all() and raw["state"].eq("IL").all()


def test_standard_frame_conforms(facilities):
    assert FACILITIES.check(facilities) == []
    assert facilities["facility_id"].is_unique
    assert facilities["facility_id"].str.fullmatch(r"[0-9a-f]{16}").all()
    assert facilities["zip"].str.fullmatch(r"\d{5}").all()
    assert facilities["latitude"].between(41.6, 42.1).all() and facilities["longitude"].between(-88.0, -87.5).all()
    assert facilities[["neighborhood_id", "geocode_precision"]].isna().all().all()


def test_otp_and_masked_names(facilities):
    by_source = facilities.groupby("source")["is_otp"]
    assert by_source.all()[["samhsa_otp", "methadone_clinics"]].all()
    assert 0 < facilities.loc[facilities["source"] == "samhsa_locator", "is_otp"].sum() < 178
    masked = facilities[(facilities["source"] == "methadone_clinics") & facilities["name"].isna()]
    assert sorted(masked["street"]) == ["140 N. Ashland Ave.", "936 E. 93rd St."]


def test_cp1252_names_decode(facilities):
    names = facilities.loc[facilities["source"] == "samhsa_otp", "name"]
    assert not names.str.contains("\ufffd").any()


def test_ids_are_stable_and_ignore_spacing_and_case():
    a = facility_ids(pd.Series(["samhsa_otp"]), pd.Series(["Garfield  Counseling Center"]),
                     pd.Series(["4132 West Madison St."]), pd.Series(["60624"]))
    b = facility_ids(pd.Series(["samhsa_otp"]), pd.Series(["GARFIELD COUNSELING CENTER "]),
                     pd.Series(["4132 west madison st."]), pd.Series(["60624"]))
    c = facility_ids(pd.Series(["methadone_clinics"]), pd.Series(["Garfield Counseling Center"]),
                     pd.Series(["4132 West Madison St."]), pd.Series(["60624"]))
    assert a.iat[0] == b.iat[0] != c.iat[0]


def test_bad_coordinates_are_an_input_error(raw):
    broken = raw.copy()
    broken.loc[3, "latitude"] = "n/a"
    with pytest.raises(InputError, match="coordinates 'n/a"):
        to_standard(broken)


def test_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="samhsa_substance_use_treatment_facilities.csv: file not found"):
        read_facilities(tmp_path)


def _facility_points(facilities: pd.DataFrame) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(facilities, geometry=gpd.points_from_xy(facilities["longitude"], facilities["latitude"]),
                            crs="EPSG:4326")


def test_distance_in_metres_from_state_plane_feet():
    fac = gpd.GeoDataFrame(geometry=[Point(1_160_000, 1_900_000), Point(1_170_000, 1_900_000)], crs="EPSG:3435")
    pts = gpd.GeoDataFrame(
        geometry=[Point(1_161_000, 1_900_000), Point(1_170_000, 1_900_000), Point(1_165_000, 1_900_000), Point()],
        index=["a", "b", "tie", "empty"], crs="EPSG:3435",
    )
    dist = nearest_facility_distance(pts, fac)
    assert list(dist.index) == ["a", "b", "tie", "empty"]
    assert dist["a"] == pytest.approx(1000 * US_FOOT_M)
    assert dist["b"] == pytest.approx(0.0)
    assert dist["tie"] == pytest.approx(5000 * US_FOOT_M)
    assert np.isnan(dist["empty"])


def test_distance_from_real_facilities(facilities):
    fac = _facility_points(facilities)
    clinic = facilities[facilities["source"] == "methadone_clinics"].iloc[[0]]
    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(clinic["longitude"], clinic["latitude"]), crs="EPSG:4326")
    assert nearest_facility_distance(pts, fac).iat[0] == pytest.approx(0.0, abs=1e-6)
    # The Loop (State & Madison) has a listing within 2 km.
    loop = gpd.GeoDataFrame(geometry=[Point(-87.6278, 41.8820)], crs="EPSG:4326")
    assert 0 < nearest_facility_distance(loop, fac).iat[0] < 2000


def test_distance_needs_crs(facilities):
    fac = _facility_points(facilities)
    pts = gpd.GeoDataFrame(geometry=[Point(-87.6, 41.9)])
    with pytest.raises(ValueError, match="no CRS"):
        nearest_facility_distance(pts, fac)

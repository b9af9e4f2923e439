"""Offline address geocoder: grid arithmetic on a synthetic city, then the real Chicago reference."""
from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from pyproj import Geod, Transformer
from shapely.geometry import box

from bench.geocode_accuracy import GOALS, load_truth, measure_accuracy
from tasks.geocode.address_parser import normalize_address
from tasks.geocode.address_geocoder import CACHE_COLUMNS, OUTPUT_COLUMNS, AddressGeocoder, cache_key, zip5
from schemas.errors import InputError

FT = 5280 / 800  # feet per address number
X0, Y0 = 1_176_000.0, 1_900_000.0  # State & Madison of the synthetic city, EPSG:3435 feet
TO_LONLAT = Transformer.from_crs("EPSG:3435", "EPSG:4326", always_xy=True)
GEOD = Geod(ellps="WGS84")

# A synthetic city laid exactly on the grid: south-west quarter, State St to Pulaski Rd.
NS = {"STATE ST": 0, "HALSTED ST": 800, "ASHLAND AVE": 1600, "WESTERN AVE": 2400, "KEDZIE AVE": 3200, "PULASKI RD": 4000}
EW = {"MADISON ST": 0, "FILLMORE ST": 1100, "ROOSEVELT RD": 1200, "CERMAK RD": 2200, "31ST ST": 3100}


def _lonlat(gx: float, gy: float, dx_ft: float = 0.0, dy_ft: float = 0.0) -> tuple[float, float]:
    lon, lat = TO_LONLAT.transform(X0 + gx * FT + dx_ft, Y0 + gy * FT + dy_ft)
    return float(lon), float(lat)


def _metres(lon1, lat1, lon2, lat2) -> float:
    return float(GEOD.inv(lon1, lat1, lon2, lat2)[2])


def _polygon(gx0, gy0, gx1, gy1):
    (lon0, lat0), (lon1, lat1) = _lonlat(gx0, gy0), _lonlat(gx1, gy1)
    return box(min(lon0, lon1), min(lat0, lat1), max(lon0, lon1), max(lat0, lat1))


@pytest.fixture(scope="module")
def toy() -> AddressGeocoder:
    rows = [("N STATE ST", "W MADISON ST", *_lonlat(0, 0))]
    for ns, west in NS.items():
        for ew, south in EW.items():
            rows.append((f"S {ns}", f"W {ew}", *_lonlat(-west, -south)))
    inter = pd.DataFrame(rows, columns=["street_1", "street_2", "longitude", "latitude"])
    names = pd.DataFrame(
        [(f"S {k}", "S", *k.rsplit(" ", 1), " ", 1, 3199) for k in NS]
        + [(f"W {k}", "W", *k.rsplit(" ", 1), " ", 1, 4399) for k in EW] + [("N STATE ST", "N", "STATE", "ST", " ", 1, 799)],
        # NOTE: the real file's header has "Street " with a trailing space; keep the quirk.
        columns=["Full Street Name", "Direction", "Street ", "Suffix", "Suffix Direction", "Min Address", "Max Address"],
    )
    hoods = gpd.GeoDataFrame({"area_numbe": ["1", "2"], "community": ["EAST", "WEST"]},
                             geometry=[_polygon(-2000, -3300, 200, 200), _polygon(-4200, -3300, -2000, 200)], crs=4326)
    zctas = gpd.GeoDataFrame({"ZCTA5CE10": ["60601"]}, geometry=[_polygon(-2600, -1500, -1000, -500)], crs=4326)
    return AddressGeocoder(inter, names, hoods, zctas)


@pytest.mark.parametrize(
    ("address", "gx", "gy", "dx_ft", "dy_ft", "precision"),
    [
        ("3201 W FILLMORE ST", -3201, -1100, 0, -50, "street"),  # odd: south side
        ("3200 W Fillmore Street", -3200, -1100, 0, 50, "street"),  # even: north side
        ("032XX W FILLMORE ST", -3250, -1100, 0, 0, "block"),  # block middle, on the centreline
        ("1201 S Ashland Ave", -1600, -1201, 50, 0, "street"),  # odd on a N-S street: east side
        ("2950 S KEDZIE AVE", -3200, -2950, -50, 0, "street"),  # between Cermak and 31st
        ("4100 W FILLMORE ST", -4100, -1100, 0, 50, "street"),  # past Pulaski, the last cross street
    ],
    ids=["odd-house", "even-house", "masked-block", "ns-street", "between-anchors", "past-last-cross-street"],
)
def test_grid_arithmetic(toy, address, gx, gy, dx_ft, dy_ft, precision):
    out = toy.geocode(pd.DataFrame({"a": [address]}), "a").iloc[0]
    lon, lat = _lonlat(gx, gy, dx_ft, dy_ft)
    assert out["geocode_method"] == "address_grid"
    assert out["geocode_precision"] == precision
    assert _metres(lon, lat, out["longitude"], out["latitude"]) < 0.05


def test_grid_neighborhoods_and_scores(toy):
    out = toy.geocode(pd.DataFrame({"a": ["1000 W FILLMORE ST", "3000 W FILLMORE ST", "4100 W FILLMORE ST"]}), "a")
    assert out["neighborhood_id"].tolist() == ["1", "2", "2"]
    assert out["neighborhood_name"].tolist() == ["EAST", "WEST", "WEST"]
    assert out["match_score"].tolist() == [1.0, 1.0, 0.95]  # 100 numbers past the last cross street


def test_grid_rejects_numbers_far_off_the_street(toy):
    out = toy.geocode(pd.DataFrame({"a": ["9000 W FILLMORE ST", "100 W NOWHERE ST"]}), "a")
    assert out["geocode_method"].tolist() == ["unmatched", "unmatched"]
    assert out.loc[0, "geocode_note"] == "house number 9000 is off the known part of W FILLMORE ST"
    assert out.loc[1, "geocode_note"] == "street not found: W NOWHERE ST"


def test_grid_intersection_and_grid_crossing(toy):
    out = toy.geocode(pd.DataFrame({"a": ["W Fillmore St & S Kedzie Ave", "Kedzie and Fillmore"]}), "a")
    lon, lat = _lonlat(-3200, -1100)
    assert out["geocode_method"].tolist() == ["intersection", "intersection"]
    assert out["match_score"].tolist() == [1.0, 0.9]
    for _, row in out.iterrows():
        assert _metres(lon, lat, row["longitude"], row["latitude"]) < 0.05


def test_zip_fallback_uses_the_largest_area_share(toy):
    out = toy.geocode(pd.DataFrame({"a": ["PO BOX 12", "???"], "z": ["60601-1234", 99999]}), "a", "z")
    assert out.loc[0, ["geocode_method", "geocode_precision", "neighborhood_id"]].tolist() == ["zip_area_share", "zip", "1"]
    assert out.loc[0, "match_score"] == pytest.approx(0.625, abs=0.01)
    assert pd.isna(out.loc[0, "latitude"])
    assert out.loc[0, "geocode_note"] == "unparseable address: PO box, not a street address; area from ZIP 60601"
    assert out.loc[1, "geocode_method"] == "unmatched"
    assert out.loc[1, "geocode_note"].endswith("; ZIP 99999 not in the ZIP areas")
    shares = toy.zip_shares.set_index("neighborhood_id")["share"]
    assert shares.to_dict() == pytest.approx({"1": 0.625, "2": 0.375}, abs=0.01)


@pytest.mark.parametrize(("value", "expected"), [("60624-2303", "60624"), (60640, "60640"), (60640.0, "60640"),
                                                 (" 60607 ", "60607"), ("606", None), (None, None)],
                         ids=["zip4", "int", "float", "spaces", "short", "none"])
def test_zip5(value, expected):
    got = zip5(pd.Series([value], dtype=object)).iloc[0]
    assert (None if pd.isna(got) else got) == expected


# -- the real Chicago reference -----------------------------------------------------------------


@pytest.fixture(scope="module")
def chicago(data_dir) -> AddressGeocoder:
    return AddressGeocoder.from_data_dir(data_dir)


@pytest.fixture(scope="module")
def intersections(data_dir) -> pd.DataFrame:
    table = pd.read_csv(data_dir / "chicago_address" / "chicago_intersections_dannguyen.csv")
    return table.set_index("intersection")


@pytest.mark.parametrize(
    ("text", "listed"),
    [
        ("N ABERDEEN ST & W ANCONA ST", "N ABERDEEN ST & W ANCONA ST"),
        ("W Ancona St & N Aberdeen St", "N ABERDEEN ST & W ANCONA ST"),
        ("Ashland and 63rd", "S ASHLAND AVE & W 63RD ST"),
        ("Halsted @ Madison", "N HALSTED ST & W MADISON ST"),
        ("S KOSTNER AVE / W FILLMORE ST", "S KOSTNER AVE & W FILLMORE ST"),
        ("N Milwaukee Ave & N Ogden Ave", "N MILWAUKEE AVE & N OGDEN AVE"),
    ],
    ids=["exact", "reversed", "no-directions", "at-sign", "slash", "two-diagonals"],
)
def test_known_intersections(chicago, intersections, text, listed):
    out = chicago.geocode(pd.DataFrame({"a": [text]}), "a").iloc[0]
    row = intersections.loc[listed]
    assert out["geocode_precision"] == "intersection"
    assert _metres(row["longitude"], row["latitude"], out["longitude"], out["latitude"]) < 1.0


@pytest.mark.parametrize(
    ("address", "corner_a", "corner_b"),
    [
        ("032XX W FILLMORE ST", "S KEDZIE AVE & W FILLMORE ST", "S SPAULDING AVE & W FILLMORE ST"),
        ("063XX S ASHLAND AVE", "S ASHLAND AVE & W 63RD ST", "S ASHLAND AVE & W 64TH ST"),
        ("024XX N LINCOLN AVE", "N LINCOLN AVE & W FULLERTON AVE", "N LINCOLN AVE & W ALTGELD ST"),
    ],
    ids=["east-west", "numbered-cross-streets", "diagonal"],
)
def test_block_lies_between_its_corners(chicago, intersections, address, corner_a, corner_b):
    out = chicago.geocode(pd.DataFrame({"a": [address]}), "a").iloc[0]
    a, b = intersections.loc[corner_a], intersections.loc[corner_b]
    to_a = _metres(a["longitude"], a["latitude"], out["longitude"], out["latitude"])
    to_b = _metres(b["longitude"], b["latitude"], out["longitude"], out["latitude"])
    span = _metres(a["longitude"], a["latitude"], b["longitude"], b["latitude"])
    assert out["geocode_precision"] == "block"
    assert to_a + to_b < span * 1.05  # on the segment between the two corners
    assert abs(to_a - to_b) < 0.35 * span  # near its middle


def test_rows_are_never_dropped_and_input_is_untouched(chicago):
    frame = pd.DataFrame(
        {"addr": ["3201 W FILLMORE ST", "", None, "PO BOX 12", "???", "1000 Ashland Ave", "3201 W FILLMORE ST"],
         "zip": [None, None, "60624", None, None, None, None]},
        index=[7, 3, 9, 1, 5, 2, 8],
    )
    before = frame.copy()
    out = chicago.geocode(frame, "addr", "zip")
    pd.testing.assert_frame_equal(frame, before)
    assert list(out.index) == [7, 3, 9, 1, 5, 2, 8]
    assert list(out.columns) == ["addr", "zip", *OUTPUT_COLUMNS]
    assert out["geocode_method"].tolist() == [
        "address_grid", "unmatched", "zip_area_share", "unmatched", "unmatched", "unmatched", "address_grid"]
    assert out.loc[3, "geocode_note"] == "unparseable address: empty"
    assert out.loc[2, "geocode_note"].startswith("ambiguous street: ")
    assert out["match_score"].between(0, 1).all()
    assert out.loc[7, "neighborhood_name"] == "NORTH LAWNDALE"


def test_missing_column_is_an_input_error(chicago):
    with pytest.raises(InputError, match="column 'street'"):
        chicago.geocode(pd.DataFrame({"a": ["1 N State St"]}), "street")


def test_zip_shares_sum_to_one(chicago):
    sums = chicago.zip_shares.groupby("zip")["share"].sum()
    assert len(sums) == 85
    assert np.allclose(sums, 1.0)
    assert chicago.zip_shares["share"].between(0, 1).all()


def test_cache_round_trip(chicago):
    frame = pd.DataFrame({"a": ["3201 W FILLMORE ST", "032XX W FILLMORE ST", "Ashland and 63rd", "3201 W FILLMORE ST"]})
    first = chicago.geocode(frame, "a")
    cache = chicago.new_cache_rows
    assert list(cache.columns) == CACHE_COLUMNS
    assert sorted(cache["cache_key"]) == sorted({cache_key(normalize_address(t)) for t in frame["a"]})
    second = chicago.geocode(frame, "a", cache=cache)
    assert chicago.new_cache_rows.empty
    pd.testing.assert_frame_equal(first, second, check_dtype=False)
    stale = cache.assign(geocoder_version="old", latitude=0.0)
    third = chicago.geocode(frame, "a", cache=stale)
    assert len(chicago.new_cache_rows) == 3
    pd.testing.assert_frame_equal(first, third, check_dtype=False)


def test_methadone_clinics_meet_the_accuracy_goals(chicago, data_dir):
    summary, detail = measure_accuracy(chicago, load_truth(data_dir, ("methadone_clinics",)))
    assert summary["n_addresses"] == 27
    assert summary["pct_street_or_better"] >= GOALS["pct_street_or_better"]
    assert summary["pct_right_area"] >= GOALS["pct_right_area"]
    assert summary["median_error_m"] <= GOALS["median_error_m"]


def test_duplicate_index_and_empty_frame(toy):
    frame = pd.DataFrame({"a": ["3201 W FILLMORE ST", "???", "1000 W FILLMORE ST"]}, index=[4, 4, 4])
    out = toy.geocode(frame, "a")
    assert list(out.index) == [4, 4, 4]
    assert out["geocode_method"].tolist() == ["address_grid", "unmatched", "address_grid"]
    assert out["neighborhood_id"].tolist()[::2] == ["2", "1"]
    empty = toy.geocode(pd.DataFrame({"a": pd.Series([], dtype="str")}), "a")
    assert list(empty.columns) == ["a", *OUTPUT_COLUMNS] and len(empty) == 0

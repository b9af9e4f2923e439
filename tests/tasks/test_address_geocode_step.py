"""The reusable address geocode step: columns filled, address dropped, cache, quarantine reasons."""
from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa

from tasks.geocode.address_step import address_geocode_step, geocode_addresses, storage_keys
from tasks.geocode.address_geocoder import AddressGeocoder
from schemas.base import QUARANTINE_REASON as GEOCODE_QUARANTINE
from warehouse.resource import Warehouse
from warehouse.load import init_warehouse

SECRET = b"s" * 32


@pytest.fixture(scope="module")
def geocoder(data_dir):
    return AddressGeocoder.from_data_dir(data_dir)


def rows(addresses, zips, start=100):
    """Rows shaped like a feed's standard frame, on a non-default index."""
    n = len(addresses)
    return pd.DataFrame({"record_id": [f"r{i}" for i in range(n)], "address": addresses, "zip": zips,
                         "neighborhood_id": pd.Series([None] * n, dtype="str")},
                        index=pd.RangeIndex(start, start + n))


def test_fills_geocode_columns_drops_the_address_and_keeps_rows(geocoder):
    frame = rows(["3247 W FILLMORE ST", "N ABERDEEN ST & W ANCONA ST", "032XX W FILLMORE ST", "HOMELESS"],
                 ["60624", None, None, "60640"])
    before = frame.copy()
    out, new = geocode_addresses(frame, geocoder, "address", "zip")
    pd.testing.assert_frame_equal(frame, before)  # input untouched
    assert "address" not in out.columns
    assert list(out.index) == list(frame.index)
    assert out["geocode_method"].tolist() == ["address_grid", "intersection", "address_grid", "zip_area_share"]
    assert out["geocode_precision"].tolist() == ["street", "intersection", "block", "zip"]
    assert out.loc[100, "neighborhood_id"] == "29"  # North Lawndale
    assert out["neighborhood_id"].notna().all()
    assert out[GEOCODE_QUARANTINE].isna().all()
    assert str(out["match_score"].dtype) == "float64"
    assert "latitude" not in out.columns  # the frame had no coordinate columns
    assert len(new) == 3 and set(new["cache_key"]) == {"3247 W FILLMORE ST", "N ABERDEEN ST & W ANCONA ST",
                                                       "032XX W FILLMORE ST"}


@pytest.mark.parametrize("address, reason_part", [
    ("HOMELESS", "address is unparseable (no house number or cross street)"),
    ("", "address is unparseable (empty)"),
    (None, "address is unparseable (empty)"),
    ("PO BOX 12", "address is unparseable (PO box, not a street address)"),
    ("4400 W NOSUCHSTREET AVE", "address not located (street not found)"),
], ids=["word", "blank", "null", "po-box", "unknown-street"])
def test_no_address_and_no_zip_is_marked_for_quarantine(geocoder, address, reason_part):
    out, _ = geocode_addresses(rows([address], [None]), geocoder, "address", "zip")
    reason = out[GEOCODE_QUARANTINE].iloc[0]
    assert reason.startswith("no usable residence location: ") and reason.endswith(" and no ZIP")
    assert reason_part in reason
    assert "NOSUCHSTREET" not in reason  # the address text never enters a reason


@pytest.mark.parametrize("zip_code, method", [("60624", "zip_area_share"), ("20500", "unmatched")],
                         ids=["city-zip", "zip-outside-the-city"])
def test_a_zip_keeps_the_row_out_of_quarantine(geocoder, zip_code, method):
    out, _ = geocode_addresses(rows(["REFUSED"], [zip_code]), geocoder, "address", "zip")
    assert out["geocode_method"].iloc[0] == method
    assert pd.isna(out[GEOCODE_QUARANTINE].iloc[0])
    assert (out["neighborhood_id"].notna().iloc[0]) == (method == "zip_area_share")


def test_coordinates_are_filled_when_the_frame_has_them_and_given_ones_win(geocoder):
    frame = rows(["3247 W FILLMORE ST", "HOMELESS"], [None, None]).assign(
        latitude=[None, 41.8781], longitude=[None, -87.6298])
    out, _ = geocode_addresses(frame, geocoder, "address", "zip")
    assert out["latitude"].notna().all() and out["longitude"].notna().all()
    assert out.loc[100, "geocode_method"] == "address_grid"
    assert out.loc[101, ["geocode_method", "geocode_precision", "neighborhood_id"]].tolist() == ["latlon", "point", "32"]
    assert out.loc[101, "latitude"] == 41.8781
    assert pd.isna(out.loc[101, GEOCODE_QUARANTINE])  # a given point is a location


def test_secret_cache_keys_hide_the_address_and_still_hit(geocoder):
    frame = rows(["3247 W FILLMORE ST", "N ABERDEEN ST & W ANCONA ST", "N NOSUCH ST & W NOWHERE AVE"],
                 ["60624", None, "60624"])
    first, new = geocode_addresses(frame, geocoder, "address", "zip", cache_secret=SECRET)
    assert new["cache_key"].str.fullmatch(r"[0-9a-f]{64}").all()
    assert new["geocode_note"].isna().all()  # notes name streets
    assert set(new["cache_key"]) == set(storage_keys(frame["address"], SECRET)["storage_key"])
    again, more = geocode_addresses(frame, geocoder, "address", "zip", cache=new, cache_secret=SECRET)
    assert more.empty  # every address came from the cache
    cols = ["neighborhood_id", "geocode_method", "geocode_precision"]
    pd.testing.assert_frame_equal(again[cols], first[cols])
    # Another secret gives other keys: the rows are not reused.
    _, other = geocode_addresses(frame, geocoder, "address", "zip", cache=new, cache_secret=b"t" * 32)
    assert len(other) == 3


def test_step_reads_and_writes_the_warehouse_cache(geocoder, tmp_path):
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    engine = Warehouse(url)
    init_warehouse(engine)
    step = address_geocode_step(lambda: geocoder, "address", zip_col="zip", warehouse=Warehouse(url), cache_secret=SECRET)
    frame = rows(["3247 W FILLMORE ST", "3247 W FILLMORE ST", "HOMELESS"], ["60624", "60624", None])
    out = step(frame)
    assert out[GEOCODE_QUARANTINE].notna().tolist() == [False, False, True]
    with engine.connect() as conn:
        keys = conn.execute(sa.text("SELECT cache_key FROM geocode_cache")).scalars().all()
    assert len(keys) == 1 and keys[0] != "3247 W FILLMORE ST"
    pd.testing.assert_frame_equal(step(frame), out)  # second call served from the table
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM geocode_cache")).scalar_one() == 1
    engine.close()


@pytest.mark.parametrize("missing", ["address", "zip"], ids=str)
def test_a_missing_column_is_a_one_line_error(geocoder, missing):
    from schemas.errors import InputError

    with pytest.raises(InputError) as e:
        geocode_addresses(rows(["x"], [None]).drop(columns=missing), geocoder, "address", "zip")
    assert "\n" not in str(e.value) and f"'{missing}'" in str(e.value)

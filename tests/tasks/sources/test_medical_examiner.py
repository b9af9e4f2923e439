"""Medical-examiner adapter: both export schemas, time zones, flags, revisions, bad input, and the
issue's targets (deaths placed in community areas per year, agreement with the source's area)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from schemas.errors import ConfigError, InputError
from schemas.medical_examiner import ME_CASES
from tasks.geocode.case_locations import area_agreement, locate_cases
from tasks.geocode.points import load_neighborhoods
from tasks.ingest.validate import validate_frame
from tasks.sources import medical_examiner as me

SUITE = Path(__file__).resolve().parents[3] / "expectations" / "medical_examiner_cases.json"
HUB_FILE = "cook_county_overdoses/me_case_archive_opioid_related_2014_to_2023-07.csv.gz"
PORTAL_FILE = "cook_county_overdoses/me_case_archive_2018-01_to_2018-06_all_cases.csv.gz"
HUB_CFG = {"layout": "hub", "label": "hub_opioid_2023-08"}
PORTAL_CFG = {"layout": "portal", "label": "portal_all_2018h1", "exported_at": "2018-07-01T00:00:00"}
# Issue 12 / PROVENANCE.md: opioid deaths with a Chicago community area, by local date of death.
TARGETS = {2015: 409, 2016: 712, 2017: 766, 2018: 760}


def standardize(path, cfg, tz="America/Chicago"):
    adapter = me.medical_examiner_adapter(cfg, tz)
    raw = pa.Table.from_batches(list(adapter.read_raw(Path(path)))).to_pandas()
    return adapter.to_standard(raw)


@pytest.fixture(scope="module")
def hub(data_dir):
    return standardize(data_dir / HUB_FILE, HUB_CFG)


@pytest.fixture(scope="module")
def portal(data_dir):
    return standardize(data_dir / PORTAL_FILE, PORTAL_CFG)


@pytest.fixture(scope="module")
def hoods(data_dir):
    return load_neighborhoods(data_dir / "chicago_boundaries/community_areas.geojson", "area_numbe", "community")


def test_both_exports_standardize_to_the_schema(hub, portal):
    for frame, n in ((hub, 12_321), (portal, 2_940)):
        assert len(frame) == n
        assert ME_CASES.check(ME_CASES.coerce(frame)) == []


def test_hub_utc_dates_become_local_time(hub):
    row = hub.set_index("case_number").loc["ME2014-01698"]
    assert row["raw_death_at"] == "2014/12/01 16:10:00+00"
    assert row["death_at"] == pd.Timestamp("2014-12-01 10:10:00")  # CST = UTC-6
    # 00:26 UTC on 1 January is still New Year's Eve in Chicago: the year changes.
    row = hub.set_index("case_number").loc["ME2015-05664"]
    assert row["death_at"] == pd.Timestamp("2015-12-31 18:26:00") and row["death_date"].year == 2015


def test_city_time_zone_is_a_parameter(data_dir):
    east = standardize(data_dir / HUB_FILE, HUB_CFG, tz="America/New_York")
    assert east.set_index("case_number").at["ME2014-01698", "death_at"] == pd.Timestamp("2014-12-01 11:10:00")


def test_the_two_exports_give_the_same_local_time_for_shared_cases(hub, portal):
    both = hub.merge(portal, on="case_number", suffixes=("_hub", "_portal"))
    assert len(both) == 548  # PROVENANCE.md: 548 of the later export's 562 are in the early one
    assert (both["death_at_hub"] == both["death_at_portal"]).all()
    # The later export revises the earlier one: its edit time is the newer version.
    assert (both["edited_at_hub"] > both["edited_at_portal"]).all()


@pytest.mark.parametrize("values,empty_is_false,expected", [
    (["Yes", "No", None], False, [True, False, None]),
    (["YES", "NO", ""], False, [True, False, None]),
    (["true", None, "false"], True, [True, False, False]),
    (["true", None], False, [True, None]),
    ([" Y ", "n", "1", "0"], False, [True, False, True, False]),
], ids=["Yes-No", "YES-NO", "true-empty", "true-empty-not-declared", "Y-N-1-0"])
def test_flags_of_every_encoding_map(values, empty_is_false, expected):
    flags, unknown = me.map_flag(pd.Series(values, dtype="str"), empty_is_false)
    assert [None if pd.isna(v) else bool(v) for v in flags] == expected
    assert unknown.isna().all()


def test_unknown_flag_text_is_reported():
    flags, unknown = me.map_flag(pd.Series(["Yes", "Maybe"], dtype="str"), False)
    assert pd.isna(flags.iat[1]) and unknown.iat[1] == "Maybe"


def test_portal_opioid_flag_is_true_or_empty(portal):
    counts = portal["is_opioid_related"].value_counts().to_dict()
    assert counts == {True: 369, False: 2_571}
    assert portal["is_covid_related"].isna().all()  # the field did not exist in 2018


def test_portal_age_groups_are_derived_like_the_hub_bands(portal):
    rows = portal.set_index("case_number")
    assert rows.at["ME2018-02123", "age"] == 42 and rows.at["ME2018-02123", "age_group"] == "40-49"
    assert set(portal["age_group"]) <= set(ME_CASES.column("age_group").allowed)


def test_duplicate_case_in_one_export_keeps_the_later_row(portal):
    dup = portal[portal["case_number"] == "ME2018-02609"]
    assert len(dup) == 2
    kept = dup[dup["quarantine_reason"].isna()]
    assert len(kept) == 1 and kept["manner"].iat[0] == "NATURAL"
    assert "repeats in this export" in dup["quarantine_reason"].dropna().iat[0]
    assert "108278" in dup["quarantine_reason"].dropna().iat[0]


def test_placeholder_dates_are_quarantined_with_a_reason(hub, portal):
    for frame, case in ((hub, "ME2022-09562"), (portal, "ME2018-02601")):
        rows = frame[frame["quarantine_reason"].isna()].drop(columns=["quarantine_reason"])
        out = validate_frame(rows, SUITE, me.suite_parameters(pd.Timestamp("2024-01-01")), id_column="case_number")
        assert out.critical_failures == []
        assert list(out.quarantine["record_id"]) == [case]
        assert "placeholder" in out.quarantine["reason"].iat[0]


def test_sample_year_places_deaths_like_the_source(hub, hoods):
    """Sample: the 2015 deaths, geocoded by point and area name (no address geocoder)."""
    sample = hub[hub["death_date"].dt.year == 2015]
    placed = locate_cases(sample, hoods, projected_crs="EPSG:3435", xy_crs="EPSG:3435")
    assert "address" not in placed.columns
    n = int(placed["neighborhood_id"].notna().sum())
    assert abs(n - TARGETS[2015]) <= 0.01 * TARGETS[2015]
    agreement = area_agreement(placed)
    assert agreement["n_compared"] > 400 and agreement["share_agree"] >= 0.99


@pytest.mark.slow
def test_full_file_counts_and_agreement(hub, hoods, data_dir):
    from tasks.geocode.address_geocoder import AddressGeocoder

    placed = locate_cases(hub, hoods, projected_crs="EPSG:3435", xy_crs="EPSG:3435",
                          address_geocoder=lambda: AddressGeocoder.from_data_dir(data_dir))
    year = placed["death_date"].dt.year
    by_source = placed["geocode_method"].isin(["latlon", "projected_xy", "source_area_name"]) & placed["neighborhood_id"].notna()
    counts = placed[by_source].groupby(year[by_source]).size()
    for y, target in TARGETS.items():
        assert abs(counts[y] - target) <= 0.01 * target, (y, counts[y], target)
    agreement = area_agreement(placed)
    assert agreement["share_agree"] >= 0.99 and agreement["n_compared"] >= 8_000
    # Chicago deaths without coordinates: the address geocoder places most by street or ZIP.
    by_address = placed["geocode_method"].isin(["intersection", "address_grid", "grid_crossing", "zip_area_share"])
    assert 300 <= int(by_address.sum()) <= 484
    assert set(placed["geocode_precision"]) <= set(ME_CASES.column("geocode_precision").allowed)


# -- bad input (tests/data/medical_examiner) ---------------------------------------------------

def test_bom_and_crlf_load(bad_dir):
    frame = standardize(bad_dir / "medical_examiner/hub_bom_crlf.csv", HUB_CFG)
    assert list(frame["case_number"]) == ["ME2099-00001", "ME2099-00002"]
    assert frame["quarantine_reason"].isna().all()
    assert frame["death_at"].iat[0] == pd.Timestamp("2019-12-31 21:30:00")
    assert pd.isna(frame["incident_zip"].iat[1])  # 99999 is a placeholder ZIP


def test_missing_column_is_one_line_error(bad_dir):
    with pytest.raises(InputError, match="column 'DEATH_DATE' is missing"):
        standardize(bad_dir / "medical_examiner/hub_missing_death_date.csv", HUB_CFG)


def test_unknown_flag_value_is_quarantined(bad_dir):
    frame = standardize(bad_dir / "medical_examiner/hub_unknown_flag.csv", HUB_CFG)
    assert frame["quarantine_reason"].iat[0] == \
        "flag OPIOID_RELATED has an unknown value 'Maybe' (expected Yes/No, true/false or empty)"
    assert pd.isna(frame["quarantine_reason"].iat[1])


def test_placeholder_fixture_is_quarantined(bad_dir):
    frame = standardize(bad_dir / "medical_examiner/hub_placeholder_date.csv", HUB_CFG)
    assert pd.isna(frame["incident_at"].iat[1]) and frame["raw_incident_at"].iat[1].startswith("9999")
    out = validate_frame(frame.drop(columns=["quarantine_reason"]), SUITE, me.suite_parameters(pd.Timestamp("2024-01-01")),
                         id_column="case_number")
    assert list(out.quarantine["record_id"]) == ["ME2099-00002"]


def test_portal_fixture_duplicates_and_epoch_placeholder(bad_dir):
    frame = standardize(bad_dir / "medical_examiner/portal_duplicate_case.csv", PORTAL_CFG)
    assert frame["quarantine_reason"].notna().tolist() == [False, True, False, False]
    assert frame["is_opioid_related"].tolist() == [False, False, False, True]
    assert (frame["edited_at"] == pd.Timestamp("2018-07-01")).all()
    out = validate_frame(frame[frame["quarantine_reason"].isna()].drop(columns=["quarantine_reason"]), SUITE,
                         me.suite_parameters(pd.Timestamp("2024-01-01")), id_column="case_number")
    assert list(out.quarantine["record_id"]) == ["ME2099-00010"]  # incident 01/01/1970


def test_non_utf8_is_one_line_error(bad_dir):
    with pytest.raises(InputError, match="row 2 has bytes that are not UTF-8"):
        standardize(bad_dir / "medical_examiner/portal_cp1252.csv", PORTAL_CFG)


@pytest.mark.parametrize("cfg,message", [
    ({"layout": "arcgis"}, "layout 'arcgis' is not known"),
    ({"layout": "portal", "label": "p"}, "exported_at is required"),
    ({"layout": "hub", "colour": "red"}, "unknown keys"),
], ids=["unknown-layout", "portal-without-exported-at", "unknown-key"])
def test_config_errors(cfg, message):
    with pytest.raises(ConfigError, match=message):
        me.medical_examiner_adapter(cfg, "America/Chicago")

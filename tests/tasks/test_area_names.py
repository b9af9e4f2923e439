"""Area-name normalizer and matcher: the examiner's and the Health Atlas's spellings."""
from __future__ import annotations

import pandas as pd
import pytest

from tasks.geocode.area_names import match_area_names, normalize_area_name, unmatched_names
from tasks.geocode.points import load_neighborhoods


@pytest.fixture(scope="module")
def hoods(data_dir):
    return load_neighborhoods(data_dir / "chicago_boundaries/community_areas.geojson", "area_numbe", "community")


@pytest.mark.parametrize("name,expected", [
    ("OHARE", "OHARE"), ("O'Hare", "OHARE"), ("O\u2019Hare", "OHARE"), ("  near   west side ", "NEAR WEST SIDE"),
    ("Montclaré", "MONTCLARE"), ("Back-of-the-Yards", "BACK OF THE YARDS"), ("", None), (None, None),
], ids=["upper", "apostrophe", "curly-apostrophe", "spaces", "accent", "hyphens", "empty", "none"])
def test_normalize(name, expected):
    assert normalize_area_name(name) == expected


def test_every_examiner_name_matches(data_dir, hoods):
    hub = pd.read_csv(data_dir / "cook_county_overdoses/me_case_archive_opioid_related_2014_to_2023-07.csv.gz",
                      usecols=["chi_commarea"], dtype="str", encoding="utf-8-sig")["chi_commarea"]
    matched = match_area_names(hub, hoods)
    assert matched["neighborhood_id"].notna().sum() == hub.notna().sum() == 8_175
    assert matched["neighborhood_id"].nunique() == 77
    assert unmatched_names(hub, hoods).empty


def test_spellings_and_aliases(hoods):
    names = pd.Series(["OHARE", "O'Hare", "Lakeview", "The Loop", "Back of the Yards", None, "Rogers Park"],
                      index=[10, 11, 12, 13, 14, 15, 16], dtype="str")
    got = match_area_names(names, hoods)
    assert list(got.index) == list(names.index)
    def plain(col):
        return [None if pd.isna(v) else v for v in got[col]]
    assert plain("neighborhood_id") == ["76", "76", "6", "32", None, None, "1"]
    assert plain("match") == ["exact", "normalized", "alias", "alias", None, None, "normalized"]
    report = unmatched_names(names, hoods)
    assert report.to_dict("records") == [{"name": "Back of the Yards", "n_rows": 1}]

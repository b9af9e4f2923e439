"""Address parsing and normalization (usaddress + Chicago spellings)."""
from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tasks.geocode.address_parser import PARSED_COLUMNS, explain_unparseable, normalize_address, ordinal, parse_addresses

CASES = [
    # (text, kind, number, key)
    ("3201 W FILLMORE ST", "house", 3201, "3201 W FILLMORE ST"),
    ("3201 west fillmore street", "house", 3201, "3201 W FILLMORE ST"),
    ("3934 N. Lincoln Ave.", "house", 3934, "3934 N LINCOLN AVE"),
    ("2260 North Elston Avenue", "house", 2260, "2260 N ELSTON AVE"),
    ("1949 North Humboldt Boulevard", "house", 1949, "1949 N HUMBOLDT BLVD"),
    ("6417 West Irving Park Road", "house", 6417, "6417 W IRVING PARK RD"),
    ("680 North Lake Shore Drive", "house", 680, "680 N LAKE SHORE DR"),
    ("1950 E 75th St", "house", 1950, "1950 E 75TH ST"),
    ("100 W 63 ST", "house", 100, "100 W 63RD ST"),
    ("2 W. 103rd, Chicago, IL 60628", "house", 2, "2 W 103RD"),
    ("8014-8018 S. Ashland Avenue", "house", 8014, "8014 S ASHLAND AVE"),
    ("1220 S. Wood St Room 1040", "house", 1220, "1220 S WOOD ST"),
    ("3500 S. Saint Louis Ave", "house", 3500, "3500 S ST LOUIS AVE"),
    ("10600 S Avenue C", "house", 10600, "10600 S AVENUE C"),
    ("7601 Kostner Avenue", "house", 7601, "7601 KOSTNER AVE"),
    ("032XX W FILLMORE ST", "block", 3200, "032XX W FILLMORE ST"),
    ("32XX W FILLMORE ST", "block", 3200, "032XX W FILLMORE ST"),
    ("0000X W MADISON ST", "block", 0, "000XX W MADISON ST"),
    ("3200 block of W. Fillmore St", "block", 3200, "032XX W FILLMORE ST"),
    ("109XX S AVENUE B", "block", 10900, "109XX S AVENUE B"),
    ("078XX S SOUTH SHORE DR", "block", 7800, "078XX S SOUTH SHORE DR"),
    ("N ABERDEEN ST & W ANCONA ST", "intersection", None, "N ABERDEEN ST & W ANCONA ST"),
    ("W ANCONA ST & N ABERDEEN ST", "intersection", None, "N ABERDEEN ST & W ANCONA ST"),
    ("Ashland and 63rd", "intersection", None, "63RD & ASHLAND"),
    ("Ashland / 63rd St", "intersection", None, "63RD ST & ASHLAND"),
    ("Halsted @ Madison", "intersection", None, "HALSTED & MADISON"),
    ("S Ashland Ave & W 63rd St", "intersection", None, "S ASHLAND AVE & W 63RD ST"),
]


@pytest.mark.parametrize(("text", "kind", "number", "key"), CASES, ids=[c[0] for c in CASES])
def test_normalize_address(text, kind, number, key):
    parsed = normalize_address(text)
    assert parsed is not None
    assert (parsed.kind, parsed.number, parsed.key) == (kind, number, key)


@pytest.mark.parametrize(
    ("text", "predir", "name", "suffix"),
    [
        ("4453 North Broadway", "N", "BROADWAY", None),
        ("5000 S Dr Martin Luther King Jr Drive", "S", "DR MARTIN LUTHER KING JR", "DR"),
        ("1401 South California Av", "S", "CALIFORNIA", "AVE"),
        ("6650 North Northwest Highway", "N", "NORTHWEST", "HWY"),
        ("3456 West Franklin Blvd.", "W", "FRANKLIN", "BLVD"),
        ("10 E Congress Pkwy", "E", "CONGRESS", "PKWY"),
    ],
    ids=["no-suffix", "mlk", "av", "highway", "blvd-dot", "parkway"],
)
def test_parts_use_usps_abbreviations(text, predir, name, suffix):
    parsed = normalize_address(text)
    assert (parsed.predir, parsed.name, parsed.suffix) == (predir, name, suffix)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("???", "no street name"),
        ("12345", "no street name"),
        ("PO BOX 12", "PO box, not a street address"),
        ("W FILLMORE ST", "no house number or cross street"),
        (None, "empty"),
    ],
    ids=["empty", "blank", "question-marks", "digits-only", "po-box", "street-without-number", "none"],
)
def test_unparseable_input_gives_a_reason(text, reason):
    assert normalize_address(text) is None
    row = parse_addresses(pd.Series([text], dtype=object)).iloc[0]
    assert not row["is_parsed"]
    assert row["parse_reason"] == reason
    if text is not None:
        assert explain_unparseable(text) == reason


@pytest.mark.parametrize(("n", "expected"), [(1, "1ST"), (2, "2ND"), (3, "3RD"), (4, "4TH"), (11, "11TH"),
                                              (12, "12TH"), (13, "13TH"), (21, "21ST"), (63, "63RD"), (111, "111TH")])
def test_ordinal(n, expected):
    assert ordinal(n) == expected


def test_intersection_keeps_both_streets():
    parsed = normalize_address("N ABERDEEN ST & W ANCONA ST")
    assert parsed.street == "N ABERDEEN ST"
    assert parsed.cross_street == "W ANCONA ST"


def test_parse_addresses_keeps_index_and_rows():
    texts = pd.Series(["3201 W FILLMORE ST", None, "PO BOX 12", "3201 W FILLMORE ST", float("nan"), "Ashland and 63rd"],
                      index=[10, 11, 12, 13, 14, 15], dtype=object)
    parsed = parse_addresses(texts)
    assert list(parsed.index) == [10, 11, 12, 13, 14, 15]
    assert list(parsed.columns) == PARSED_COLUMNS
    assert parsed["is_parsed"].tolist() == [True, False, False, True, False, True]
    assert parsed.loc[10, "key"] == parsed.loc[13, "key"] == "3201 W FILLMORE ST"
    assert parsed.loc[10, "street"] == "W FILLMORE ST"
    assert parsed["number"].dtype == "Int64"


def test_parse_addresses_takes_zip_from_text():
    parsed = parse_addresses(pd.Series(["2 W. 103rd, Chicago, IL 60628"]))
    assert parsed.loc[0, "zip"] == "60628"


def test_parse_addresses_does_not_modify_input():
    texts = pd.Series(["3201 W FILLMORE ST", "x"])
    before = texts.copy()
    parse_addresses(texts)
    pd.testing.assert_series_equal(texts, before)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.none(), st.text(max_size=60),
                          st.from_regex(r"\d{1,5}X{0,2} [NSEW]? ?[A-Z ]{1,12} (ST|AVE|&|AND|/) ?[A-Z0-9 ]{0,10}",
                                        fullmatch=True)),
                max_size=20))
def test_arbitrary_text_never_raises_and_keeps_rows(texts):
    series = pd.Series(texts, dtype=object)
    parsed = parse_addresses(series)
    assert len(parsed) == len(series)
    assert parsed.index.equals(series.index)
    assert parsed["parse_reason"].isna().eq(parsed["is_parsed"]).all()
    for text in texts:
        normalize_address(text)

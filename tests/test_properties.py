"""Property tests: every adapter's standardization, given arbitrary text rows, either raises a
``PulseError`` (one clear line) or returns one row per input row on the same index, in order.

Values mix arbitrary unicode with plausible source text (dates in several formats, numbers,
codes, coordinates) so both the happy paths and the fallbacks run. Bounded ``max_examples``
keep the file well under a minute.
"""
from __future__ import annotations

import tomllib
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tasks.geocode.address_parser import parse_addresses
from schemas.errors import PulseError
from tasks.sources import police_chicago, programs_cpl, programs_demo, treatment_provider, treatment_teds
from tasks.sources.mapped import IncidentMapping, standardize_incidents

REPO = Path(__file__).resolve().parents[1]
KEY = b"property-test-key-0123456789abcdef0123456789"
PROPS = settings(max_examples=60, deadline=None, database=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

PLAUSIBLE = [
    "", " ", "0", "-1", "1.5", "007", "41.88", "-87.63", "1166811", "NaN", "inf", "-9", "99", "true", "FALSE", "Y",
    "01/03/2016 11:57:00 PM", "2016-01-03T23:57:00.000", "2016-01-03", "03/14/2017", "02/30/2017",
    "2016-01-03T23:57:00+05:00", "13/13/2013 25:61:61 PM", "9999-12-31", "0486", "2027", "ZZZZ",
    "=cmd|' /C calc'!A0", "3247 W FILLMORE ST", "N ABERDEEN ST & W ANCONA ST", "PO BOX 12", "60624-1234",
    "POINT (-87.67 41.69)", "(41.97, -87.71)", "\x00", "ÉÑ–", "1,234", "1e30", "99999999999999999999",
    "Support group",
]
# Numbers beyond 64 bits (once a crash in the treatment and program parsers; see also
# test_huge_numbers_are_rejected_with_a_reason).
HUGE = ["1e30", "99999999999999999999"]


def cell(values=PLAUSIBLE):
    return st.one_of(st.none(), st.sampled_from(values), st.text(max_size=12))


def frames(columns, values=PLAUSIBLE, max_rows=6):
    """Text frames with the given columns, 0..max_rows rows, on a non-zero-based index (a later chunk)."""
    return st.tuples(
        st.lists(st.fixed_dictionaries({c: cell(values) for c in columns}), max_size=max_rows),
        st.integers(min_value=0, max_value=10**6),
    ).map(lambda t: pd.DataFrame(t[0], columns=list(columns), dtype="str",
                                 index=pd.RangeIndex(t[1], t[1] + len(t[0]))))


def same_rows(raw: pd.DataFrame, out: pd.DataFrame) -> None:
    assert len(out) == len(raw)
    assert out.index.equals(raw.index)


POLICE_COLUMNS = ["ID", "Case Number", "Date", "Block", "IUCR", "Primary Type", "Description", "Location Description",
                  "Arrest", "Domestic", "Beat", "District", "Ward", "Community Area", "FBI Code", "X Coordinate",
                  "Y Coordinate", "Year", "Updated On", "Latitude", "Longitude", "Location"]


@PROPS
@given(frames(POLICE_COLUMNS))
def test_police_chicago_to_standard(raw):
    before = raw.copy()
    same_rows(raw, police_chicago.to_standard(raw))
    pd.testing.assert_frame_equal(raw, before)  # the input is not modified


def generic_mapping() -> IncidentMapping:
    with open(REPO / "config" / "chicago_generic.toml", "rb") as fh:
        cfg = tomllib.load(fh)
    return IncidentMapping.from_config(cfg["sources"]["police_generic"], cfg["city"]["timezone"])


@PROPS
@given(frames(POLICE_COLUMNS))
def test_mapped_standardize_incidents(raw):
    same_rows(raw, standardize_incidents(raw, generic_mapping()))


@PROPS
@given(frames(["CASE", "WHEN", "CODE", "LAT"]))
def test_mapped_adapter_with_a_sparse_mapping_in_another_time_zone(raw):
    mapping = IncidentMapping(id_column="CASE", occurred_at="WHEN", offense_code_column="CODE", latitude="LAT",
                              longitude="LON_NOT_IN_FILE", timestamp_formats=("%d.%m.%Y %H:%M", "ISO8601"),
                              source_timezone="UTC", city_timezone="America/Chicago")
    same_rows(raw, standardize_incidents(raw, mapping))


def test_mixed_offsets_and_naive_times_in_one_chunk():
    raw = pd.DataFrame({c: ["1"] * 2 for c in POLICE_COLUMNS}, dtype="str")
    raw["Date"] = ["2016-01-03T23:57:00", "2016-01-03T23:57:00-06:00"]
    same_rows(raw, police_chicago.to_standard(raw))


PROVIDER_COLUMNS = list(treatment_provider.REQUIRED_COLUMNS) + ["SYNTHETIC"]


@PROPS
@given(frames(PROVIDER_COLUMNS))
def test_treatment_provider_to_standard(raw):
    try:
        std, address = treatment_provider.to_standard(raw, KEY)
    except PulseError:
        return
    same_rows(raw, std)
    same_rows(raw, address.to_frame())


TEDS_COLUMNS = list(treatment_teds.REQUIRED_COLUMNS) + ["ADMYR", "CBSA2010", "GENDER", "PSOURCE"]


@PROPS
@given(frames(TEDS_COLUMNS))
def test_treatment_teds_to_standard_keeps_or_rejects_every_row(raw):
    try:
        out = treatment_teds.to_standard(raw, default_admission_year=2017)
    except PulseError:
        return
    # TEDS rows either load or come back as rejects with a reason: none vanish, none appear.
    kept, rejected = out[0], out[1]
    assert len(kept) + len(rejected) == len(raw)
    assert rejected["row"].is_unique and rejected["reason"].notna().all()


SESSION_COLUMNS = list(programs_demo.SESSION_FILE_COLUMNS)
PROGRAM_COLUMNS = list(programs_demo.PROGRAM_FILE_COLUMNS)


@PROPS
@given(frames(SESSION_COLUMNS))
def test_demo_sessions_to_standard(raw):
    try:
        out = programs_demo.sessions_to_standard(raw)
    except PulseError as exc:
        assert "\n" not in str(exc)
        return
    same_rows(raw, out)


@PROPS
@given(frames(PROGRAM_COLUMNS))
def test_demo_programs_to_standard(raw):
    try:
        programs, addresses = programs_demo.programs_to_standard(raw)
    except PulseError as exc:
        assert "\n" not in str(exc)
        return
    same_rows(raw, programs)
    same_rows(raw, addresses.to_frame())


@PROPS
@given(frames(["SESSION_ID", "PARTICIPANT_ID", "SYNTHETIC"]))
def test_demo_roster_to_standard(raw):
    try:
        out = programs_demo.roster_to_standard(raw, KEY)
    except PulseError:
        return
    same_rows(raw, out)


CPL_COLUMNS = ["BRANCH", "ADDRESS", "CITY", "ZIP", *programs_cpl.MONTHS, "YTD", "Location"]


@PROPS
@given(frames(CPL_COLUMNS))
def test_cpl_to_standard_makes_a_program_per_row_and_a_cell_per_month(raw):
    try:
        feed = programs_cpl.to_standard(raw.reset_index(drop=True), 2023)
    except PulseError as exc:
        assert "\n" not in str(exc)
        return
    assert len(feed.programs) == len(raw)
    assert len(feed.cells) == 12 * len(raw) == feed.n_read


def _one_row(columns, **values) -> pd.DataFrame:
    return pd.DataFrame({c: ["1"] for c in columns} | {k: [v] for k, v in values.items()}, dtype="str")


HUGE_CASES = [
    pytest.param(lambda v: treatment_provider.to_standard(_one_row(PROVIDER_COLUMNS, SUB1=v), KEY), value,
                 id=f"provider-{value[:5]}") for value in HUGE
] + [
    pytest.param(lambda v: treatment_teds.to_standard(_one_row(TEDS_COLUMNS, SUB1=v)), value, id=f"teds-{value[:5]}")
    for value in HUGE
] + [  # these two reject '1e30' and 20-digit counts as not a whole number (a clear InputError)
    pytest.param(lambda v: programs_demo.sessions_to_standard(
        _one_row(SESSION_COLUMNS, SESSION_DATE="2016-01-01", SYNTHETIC="Y", ATTENDEES=v)), HUGE[1], id="demo-sessions"),
    pytest.param(lambda v: programs_cpl.to_standard(
        _one_row(CPL_COLUMNS, BRANCH="Walker", Location="POINT (-87.67 41.69)", MARCH=v), 2023), HUGE[1], id="cpl"),
]


@pytest.mark.parametrize("parse,value", HUGE_CASES)
def test_huge_numbers_are_rejected_with_a_reason(parse, value):
    # A number beyond 64 bits is not a code or a count: null (kept as raw text) or a one-line InputError.
    try:
        parse(value)
    except PulseError as exc:
        assert "\n" not in str(exc)


ADDRESS_TEXT = st.one_of(
    st.none(), st.text(max_size=40), st.sampled_from(PLAUSIBLE),
    st.builds(lambda n, d, s, t: f"{n} {d} {s} {t}", st.integers(-5, 99999), st.sampled_from(["N", "S", "E", "W", ""]),
              st.sampled_from(["MADISON", "STATE", "MARTIN LUTHER KING JR", "O'HARE", "100TH", ""]),
              st.sampled_from(["ST", "AVE", "BLVD", "DR", "PL", "#2", "APT 3", ""])),
)


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ADDRESS_TEXT, max_size=8), st.integers(0, 1000))
def test_parse_addresses_never_raises_and_keeps_rows(texts, start):
    addresses = pd.Series(texts, dtype="object", index=pd.RangeIndex(start, start + len(texts)))
    out = parse_addresses(addresses)
    same_rows(addresses.to_frame(), out)
    assert out["is_parsed"].dtype == bool
    assert (out.loc[~out["is_parsed"], "parse_reason"].notna()).all()

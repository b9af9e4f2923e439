"""CPL visitors by branch: yearly wide files -> programs + monthly sessions, with the files' quirks."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from schemas.programs import PROGRAMS, SESSIONS
from schemas.errors import InputError
from tasks.sources import programs_cpl as cpl

FIXTURES = Path(__file__).resolve().parents[2] / "data" / "programs"
# YTD totals per year, from data/programs/PROVENANCE.md.
YTD_TOTALS = {2019: 8_039_580, 2020: 3_316_780, 2021: 3_574_752, 2022: 4_510_256, 2023: 4_125_692}


@pytest.fixture(scope="module")
def feed(data_dir) -> cpl.CplFeed:
    return cpl.read_all(data_dir)


@pytest.fixture(scope="module")
def feed_2019(data_dir) -> cpl.CplFeed:
    base = data_dir / "programs"
    return cpl.to_standard(cpl.read_raw(base / "cpl_visitors_by_location_2019.csv"), 2019,
                           cpl.read_locations(base / cpl.LOCATIONS_FILE))


def test_all_years_conform_to_schema(feed):
    assert PROGRAMS.check(feed.programs) == []
    assert SESSIONS.check(feed.sessions) == []
    assert feed.programs["program_id"].is_unique and feed.sessions["session_id"].is_unique
    assert len(feed.programs) == 81 == len(feed.site_addresses)
    assert set(feed.sessions["period"]) == {"month"} and not feed.sessions["is_synthetic"].any()


def test_every_month_cell_is_loaded_or_skipped(feed):
    # 80 branches in 2019-2020 and 81 in 2021-2023, twelve months each.
    assert feed.n_read == 12 * (80 * 2 + 81 * 3) == len(feed.sessions) + len(feed.skipped)


def test_yearly_totals_match_the_published_ytd(feed):
    totals = feed.sessions.groupby(feed.sessions["session_date"].dt.year)["attendees"].sum()
    assert totals.to_dict() == YTD_TOTALS
    assert not (feed.issues["column"] == "YTD").any()


def test_branch_column_renamed_between_years(feed):
    ids_by_year = feed.sessions.groupby(feed.sessions["session_date"].dt.year)["program_id"].agg(set)
    # 2019 keys branches by LOCATION, 2020 by BRANCH: the same branches come out.
    assert ids_by_year[2019] == ids_by_year[2020]
    assert ids_by_year[2021] - ids_by_year[2020] == {"cpl-water-works"}


def test_session_ids_are_stable_slugs(feed):
    row = feed.sessions.set_index("session_id").loc["cpl-whitney-m-young-jr-2021-03"]
    assert row["program_id"] == "cpl-whitney-m-young-jr"
    assert row["session_date"] == pd.Timestamp("2021-03-01") and row["attendees"] == 1921


def test_2020_covid_closures_are_real_zeros(feed):
    s = feed.sessions
    spring = s[s["session_date"].isin(pd.to_datetime(["2020-04-01", "2020-05-01"]))]
    assert len(spring) == 2 * 80
    assert (spring["attendees"] == 0).all()


def test_2023_blank_months_are_counted_not_loaded(feed):
    s, skipped = feed.sessions, feed.skipped
    assert not (s["session_date"] >= pd.Timestamp("2023-11-01")).any()
    assert len(skipped) == 2 * 81
    assert set(skipped["month"]) == {"2023-11", "2023-12"}
    assert set(skipped["reason"]) == {cpl.NOT_REPORTED}
    assert not set(skipped["session_id"]) & set(s["session_id"])


def test_2019_coordinates_come_from_the_locations_file(feed_2019):
    p = feed_2019.programs.set_index("program_id")
    assert p.loc["cpl-albany-park", ["latitude", "longitude"]].tolist() == [41.975456, -87.71409]
    # "Legler Regional" is "Legler" there; "Harold Washtington" (sic) matches by address only.
    assert p.loc["cpl-legler-regional", "latitude"] == pytest.approx(41.8793386)
    assert p.loc["cpl-harold-washtington-library-center", "latitude"] == pytest.approx(41.8762998)
    assert p["latitude"].notna().sum() == 78


@pytest.mark.parametrize("branch", ["Little Italy", "West Loop"], ids=["little-italy", "west-loop"])
def test_2019_unmatched_branches_are_reported_not_dropped(feed_2019, branch):
    pid = f"cpl-{cpl.branch_slug(branch)}"
    row = feed_2019.programs.set_index("program_id").loc[pid]
    assert pd.isna(row["latitude"]) and pd.isna(row["longitude"])
    assert (feed_2019.sessions["program_id"] == pid).sum() == 12
    warning = feed_2019.issues[(feed_2019.issues["branch"] == branch) & (feed_2019.issues["severity"] == "warning")]
    assert len(warning) == 1 and "geocode the site from its address" in warning["problem"].iloc[0]


def test_altgeld_keeps_one_program_and_reports_its_move(feed):
    altgeld = feed.programs.set_index("program_id").loc["cpl-altgeld"]
    address = feed.site_addresses[feed.programs["program_id"] == "cpl-altgeld"].iloc[0]
    assert address.startswith("955 E. 131st St.")
    assert altgeld["started_on"] == pd.Timestamp("2019-01-01")
    assert altgeld["latitude"] == pytest.approx(41.657217, abs=1e-5)
    moves = feed.issues[(feed.issues["branch"] == "cpl-altgeld") & (feed.issues["column"] == "ADDRESS")]
    assert len(moves) == 1
    assert "13281 S. Corliss Ave." in moves["problem"].iloc[0] and "in 2021" in moves["problem"].iloc[0]
    assert (feed.issues["column"] == "ADDRESS").sum() == 1  # no other branch moved
    years = feed.sessions.loc[feed.sessions["program_id"] == "cpl-altgeld", "session_date"].dt.year
    assert sorted(years.unique()) == [2019, 2020, 2021, 2022, 2023]


@pytest.mark.parametrize("year,column", [(2020, "LOCATION"), (2022, "Location")], ids=["upper", "title-case"])
def test_point_column_parsed_in_either_case(data_dir, year, column):
    raw = cpl.read_raw(data_dir / "programs" / f"cpl_visitors_by_location_{year}.csv")
    assert column in raw.columns
    out = cpl.to_standard(raw, year)
    assert out.programs["latitude"].between(41.6, 42.1).all()
    assert out.programs["longitude"].between(-87.95, -87.5).all()


def test_tiny_file_blanks_ytd_mismatch_and_bad_point():
    out = cpl.to_standard(cpl.read_raw(FIXTURES / "cpl_visitors_tiny_2023.csv"), 2023)
    assert len(out.sessions) == 30 and len(out.skipped) == 6 and out.n_read == 36
    ytd = out.issues[out.issues["column"] == "YTD"]
    assert ytd["branch"].tolist() == ["Albany Park"] and "72224" in ytd["problem"].iloc[0]
    assert ytd["where"].iloc[0].endswith("cpl_visitors_tiny_2023.csv:3")
    # Albany Park's months load even though its YTD disagrees.
    assert (out.sessions["program_id"] == "cpl-albany-park").sum() == 10
    whitney = out.programs.set_index("program_id").loc["cpl-whitney-m-young-jr"]
    assert pd.isna(whitney["latitude"])
    assert out.sessions.loc[out.sessions["program_id"] == "cpl-whitney-m-young-jr", "attendees"].eq(0).all()
    assert PROGRAMS.check(out.programs) == [] and SESSIONS.check(out.sessions) == []


def test_locations_file_bom_and_trailing_space_header():
    locations = cpl.read_locations(FIXTURES / "cpl_locations_tiny.csv")
    assert "NAME" in locations.columns
    out = cpl.to_standard(cpl.read_raw(FIXTURES / "cpl_visitors_tiny_2019.csv"), 2019, locations)
    assert out.programs["latitude"].notna().tolist() == [True, True, True, False]


@pytest.mark.parametrize("file_name,expected", [
    ("cpl_visitors_no_branch.csv", "column 'BRANCH' is missing"),
    ("cpl_visitors_no_march.csv", "column 'MARCH' is missing"),
    ("cpl_visitors_header_only.csv", "header but no data rows"),
    ("empty.csv", "file is empty"),
    ("cpl_visitors_latin1.csv", "not UTF-8"),
    ("no_such_file.csv", "file not found"),
], ids=["no-branch-column", "missing-month", "header-only", "empty", "not-utf8", "missing-file"])
def test_bad_files_raise_one_line_input_error(file_name, expected):
    with pytest.raises(InputError) as err:
        cpl.read_raw(FIXTURES / file_name)
    msg = str(err.value)
    assert file_name in msg and expected in msg and "\n" not in msg


def test_non_numeric_count_names_file_line_and_month():
    raw = cpl.read_raw(FIXTURES / "cpl_visitors_bad_count.csv")
    with pytest.raises(InputError, match=r"cpl_visitors_bad_count\.csv:2: column 'MARCH' holds 'n/a'"):
        cpl.to_standard(raw, 2020)


def test_to_standard_leaves_raw_unchanged():
    raw = cpl.read_raw(FIXTURES / "cpl_visitors_tiny_2023.csv")
    before = raw.copy()
    cpl.to_standard(raw, 2023)
    pd.testing.assert_frame_equal(raw, before)

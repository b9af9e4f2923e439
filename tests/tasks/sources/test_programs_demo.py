"""Synthetic drug-response programs: seeded generator, provider-style files, adapter."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from schemas.programs import MAX_PLAUSIBLE_ATTENDEES, PROGRAM_TYPES, PROGRAMS, ROSTER, SESSIONS
from schemas.errors import ConfigError, InputError
from tasks.sources import programs_demo as demo
from tasks.synthetic import programs as demo_gen

FIXTURES = Path(__file__).resolve().parents[2] / "data" / "programs"
KEY = b"test-key-for-pseudonyms-0123456789abcdef"


@pytest.fixture(scope="module")
def inputs(data_dir) -> dict:
    return demo_gen.read_inputs(data_dir)


@pytest.fixture(scope="module")
def feed(inputs) -> demo_gen.DemoFeed:
    return demo_gen.generate_programs(inputs["neighborhoods"], inputs["population"], inputs["incidents_by_area"],
                                  seed=7, blocks=inputs["blocks"])


@pytest.fixture(scope="module")
def std(feed) -> demo.DemoStandard:
    return demo.to_standard(feed.programs, feed.sessions, feed.roster, KEY)


def test_same_seed_same_feed_other_seed_differs(inputs, feed):
    args = (inputs["neighborhoods"], inputs["population"], inputs["incidents_by_area"])
    again = demo_gen.generate_programs(*args, seed=7, blocks=inputs["blocks"])
    for name in demo_gen.DemoFeed._fields:
        pd.testing.assert_frame_equal(getattr(again, name), getattr(feed, name))
    other = demo_gen.generate_programs(*args, seed=8, blocks=inputs["blocks"])
    assert not other.sessions.equals(feed.sessions)


def test_standard_frames_conform_and_are_labelled_synthetic(feed, std):
    assert PROGRAMS.check(std.programs) == []
    assert SESSIONS.check(std.sessions) == []
    assert ROSTER.check(std.roster) == [] and ROSTER.person_level
    assert len(std.programs) == 12 and len(std.sessions) == len(feed.sessions)
    for frame in (std.programs, std.sessions, std.roster):
        assert frame["is_synthetic"].all()
    for frame in (feed.programs, feed.sessions, feed.roster):
        assert set(frame["SYNTHETIC"]) == {"Y"}


def test_programs_are_staggered_and_some_end(std):
    p = std.programs
    assert set(p["program_type"]) == set(PROGRAM_TYPES) - {"library"}
    assert p["started_on"].between(pd.Timestamp("2016-01-01"), pd.Timestamp("2017-12-31")).all()
    assert p["started_on"].is_unique
    assert p["ended_on"].notna().sum() == 4 and (p["ended_on"].dropna() <= demo_gen.HORIZON).all()
    assert p["latitude"].isna().all()  # provider sends addresses; tasks/geocode fills the rest
    assert std.site_addresses.str.fullmatch(r"\d+ [NSEW] .+, Chicago, IL").all()


def test_areas_follow_drug_incident_rates(inputs):
    chosen = demo_gen.choose_areas(inputs["neighborhoods"], inputs["population"], inputs["incidents_by_area"])
    # The 2017 ranking among areas of >= 15,000 residents is the documented default list.
    assert chosen == list(demo_gen.DEFAULT_AREAS)
    assert "76" not in chosen and "37" not in chosen  # O'Hare and Fuller Park: tiny denominators
    assert demo_gen.choose_areas(inputs["neighborhoods"], inputs["population"]) == list(demo_gen.DEFAULT_AREAS)


def test_sites_are_real_blocks_of_their_area(inputs, feed):
    blocks = inputs["blocks"]
    for site in feed.sites.itertuples():
        same = blocks[(blocks["neighborhood_id"] == site.neighborhood_id) & (blocks["block"] == site.block)]
        assert len(same) == 1
        hundreds = re.match(r"(\d*)XX", site.block).group(1)
        number = int(site.site_address.split(" ", 1)[0])
        assert number // 100 == int(hundreds or 0)
        assert site.site_address.split(" ", 1)[1] == site.block.split(" ", 1)[1]


@pytest.mark.parametrize("block,low,high", [
    ("032XX W FILLMORE ST", 3200, 3299),
    ("0000X W MADISON ST", 1, 9),
    ("118XX S HALSTED ST", 11800, 11899),
], ids=["hundreds", "first-ten", "five-digit"])
def test_block_to_address(block, low, high):
    rng = np.random.default_rng(0)
    for _ in range(20):
        number, street = demo_gen.block_to_address(block, rng).split(" ", 1)
        assert low <= int(number) <= high and street == block.split(" ", 1)[1]


def test_block_to_address_rejects_unmasked_text():
    with pytest.raises(ValueError):
        demo_gen.block_to_address("W FILLMORE ST", np.random.default_rng(0))


def test_attendance_plausible_per_type_outside_defects(feed, std):
    defect_ids = set(feed.defects["session_id"])
    s = std.sessions[~std.sessions["session_id"].isin(defect_ids)]
    s = s.merge(std.programs[["program_id", "program_type"]], on="program_id", validate="many_to_one")
    assert (s["attendees"] >= 0).all()
    assert (s["attendees"] <= s["program_type"].map(MAX_PLAUSIBLE_ATTENDEES)).all()
    means = s.groupby("program_type")["attendees"].mean()
    assert means["outreach"] > means["support_group"] > means["treatment_linkage"]


def test_defect_manifest_covers_each_kind_at_a_small_rate(feed):
    d = feed.defects
    assert set(d["kind"]) == set(demo_gen.DEFECT_KINDS)
    assert 0.01 <= d["n_rows"].sum() / len(feed.sessions) <= 0.04
    counts = feed.sessions["SESSION_ID"].value_counts()
    for row in d.itertuples():
        assert counts[row.session_id] == row.n_rows
    assert (counts > 1).sum() == (d["kind"] == "duplicate_session_id").sum()
    orphans = d.loc[d["kind"] == "unknown_program", "session_id"]
    assert set(feed.sessions.set_index("SESSION_ID").loc[orphans, "PROGRAM_ID"]) == {demo_gen.ORPHAN_PROGRAM_ID}


def test_roster_matches_attendance_and_first_visits(feed, std):
    # Injected defect rows have no sign-in sheet, and a re-sent row shares its original's.
    defects = set(feed.defects["session_id"])
    roster_programs = std.programs.loc[std.programs["program_type"].map(lambda t: demo_gen.PROFILES[t].has_roster),
                                       "program_id"]
    s = std.sessions[std.sessions["program_id"].isin(roster_programs) & ~std.sessions["session_id"].isin(defects)]
    assert len(s) > 300
    sizes = std.roster.groupby("session_id").size().reindex(s["session_id"], fill_value=0)
    assert (sizes.to_numpy() == s["attendees"].to_numpy()).all()
    dates = std.sessions.drop_duplicates("session_id")[["session_id", "program_id", "session_date"]]
    r = std.roster.merge(dates, on="session_id", validate="many_to_one")
    first = r.sort_values("session_date").drop_duplicates(["program_id", "participant_key"])
    new = first.groupby("session_id").size().reindex(s["session_id"], fill_value=0)
    assert (new.to_numpy() == s["new_participants"].to_numpy()).all()
    assert std.roster["participant_key"].str.fullmatch(r"[0-9a-f]{64}").all()
    assert not std.roster["participant_key"].isin(feed.roster["PARTICIPANT_ID"]).any()


def test_write_then_read_round_trips(tmp_path, data_dir):
    written = demo_gen.write_demo_programs(tmp_path, data_dir, seed=3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["programs.csv", "roster.csv", "sessions.csv"]
    programs, sessions, roster = demo.read_demo(tmp_path)
    pd.testing.assert_frame_equal(programs, written.programs)
    pd.testing.assert_frame_equal(sessions, written.sessions)
    pd.testing.assert_frame_equal(roster, written.roster)


def test_fixture_files_standardize():
    programs, sessions, roster = demo.read_demo_files(FIXTURES / "demo_programs.csv", FIXTURES / "demo_sessions.csv",
                                                      FIXTURES / "demo_roster.csv")
    out = demo.to_standard(programs, sessions, roster, KEY)
    assert out.programs["program_type"].tolist() == ["support_group", "outreach"]
    assert out.programs["ended_on"].isna().tolist() == [True, False]
    assert out.sessions["new_participants"].isna().tolist() == [False, False, True]
    # 'C100001 ' (trailing space) is the same participant as 'C100001'.
    assert out.roster["participant_key"].nunique() == 3
    assert out.site_addresses.tolist() == ["5547 W MADISON ST, Chicago, IL", "612 N CENTRAL AVE, Chicago, IL"]


def test_roster_without_key_is_a_config_error(feed):
    with pytest.raises(ConfigError, match="PULSE_PSEUDONYM_KEY"):
        demo.to_standard(feed.programs, feed.sessions, feed.roster, None)


@pytest.mark.parametrize("sessions_file,expected", [
    ("demo_sessions_no_program.csv", "column 'PROGRAM_ID' is missing"),
    ("demo_sessions_bad_date.csv", "demo_sessions_bad_date.csv:3: column 'SESSION_DATE' holds '14/03/2016'"),
    ("demo_sessions_bad_count.csv", "demo_sessions_bad_count.csv:2: column 'ATTENDEES' holds 'about 20'"),
    ("demo_sessions_header_only.csv", "header but no data rows"),
    ("empty.csv", "file is empty"),
    ("demo_sessions_latin1.csv", "not UTF-8"),
], ids=["missing-column", "bad-date", "bad-count", "header-only", "empty", "not-utf8"])
def test_bad_session_files_raise_one_line_input_error(sessions_file, expected):
    with pytest.raises(InputError) as err:
        programs, sessions, _ = demo.read_demo_files(FIXTURES / "demo_programs.csv", FIXTURES / sessions_file)
        demo.to_standard(programs, sessions)
    msg = str(err.value)
    assert sessions_file in msg and expected in msg and "\n" not in msg

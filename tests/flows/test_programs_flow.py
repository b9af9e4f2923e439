"""Program feeds end to end: CPL library visits and the synthetic programs, on DuckDB and PostgreSQL."""
from __future__ import annotations

import json
import os
import re
import shutil
import stat
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
import typer
from typer.testing import CliRunner

from flows.cli_programs import register
from flows.programs import demo_folder, demo_programs_flow, generate_demo, library_programs_flow
from flows.secrets import KEY_FILE, pseudonym_key
from tasks.errors import PulseError
from tasks.program_steps import SESSIONS_SUITE
from tasks.pseudonymize import pseudonymize
from tasks.sources import programs_demo as demo

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "programs"
CPL_TINY = [FIXTURES / "cpl_visitors_tiny_2019.csv", FIXTURES / "cpl_visitors_tiny_2023.csv"]
CPL_LOCATIONS = FIXTURES / "cpl_locations_tiny.csv"
DIRECTIONS = {"N", "S", "E", "W", "NORTH", "SOUTH", "EAST", "WEST"}


def q(url: str, sql: str, **params):
    from warehouse.engine import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(sql), params).all()
    finally:
        engine.dispose()


def all_tables_text(url: str) -> dict[str, str]:
    """Return every warehouse table's rows as one string per table."""
    names = [r[0] for r in q(url, "SELECT table_name FROM information_schema.tables WHERE table_schema "
                                  "NOT IN ('information_schema', 'pg_catalog')")]
    return {n: "\n".join(" | ".join(map(str, row)) for row in q(url, f'SELECT * FROM "{n}"')) for n in names}


def address_pattern(address: str) -> re.Pattern:
    """House number followed by the street name, however the warehouse might spell it."""
    tokens = [t for t in re.split(r"[\s.,]+", address) if t]
    name = next(t for t in tokens[1:] if t.upper() not in DIRECTIONS)
    return re.compile(rf"\b{tokens[0]}\b[\sA-Za-z.]{{0,8}}{re.escape(name)}", re.IGNORECASE)


def session_reasons() -> dict[tuple[str, str], str]:
    suite = json.loads(SESSIONS_SUITE.read_text())
    return {(e["type"], e["kwargs"].get("column") or e["kwargs"].get("column_A")): e["meta"]["reason"]
            for e in suite["expectations"]}


def run_library(settings, files=CPL_TINY):
    return library_programs_flow(settings=settings, files=[str(f) for f in files], locations_file=str(CPL_LOCATIONS))


def test_both_feeds_load_every_row_or_quarantine_it_and_rerun_skips(prefect_harness, settings_factory,
                                                                     warehouse_url):
    settings = settings_factory(warehouse_url)
    feed = generate_demo(settings, demo_folder(settings))  # where the flow looks; seeded like the flow's default
    out = run_library(settings) + demo_programs_flow(settings=settings)

    assert [s["status"] for s in out] == ["loaded"] * 6
    audit = q(warehouse_url, "SELECT source, entity, rows_read, rows_loaded, rows_quarantined FROM load_audit "
                             "WHERE status = 'loaded'")
    assert len(audit) == 6 and all(read == loaded + held for _, _, read, loaded, held in audit)
    read = {(src, entity): n for src, entity, n, _, _ in audit if src == "programs_demo" or entity == "programs"}
    cells = sorted(n for src, entity, n, _, _ in audit if entity == "program_sessions" and src == "programs_cpl")
    # CPL: 6 branches (4 in 2019, 3 in 2023, Albany Park in both); 12 month cells per branch row.
    assert read[("programs_cpl", "programs")] == 6 and cells == [36, 48]
    assert read[("programs_demo", "programs")] == len(feed.programs)
    assert read[("programs_demo", "program_sessions")] == len(feed.sessions)
    assert read[("programs_demo", "session_roster")] == len(feed.roster)
    for table, source in (("fct_program_sessions", "programs_cpl"), ("fct_program_sessions", "programs_demo"),
                          ("dim_programs", "programs_demo"), ("fct_session_roster", "programs_demo")):
        loaded = q(warehouse_url, f"SELECT count(*) FROM {table} WHERE source = :s", s=source)[0][0]
        entity = {"fct_program_sessions": "program_sessions", "dim_programs": "programs",
                  "fct_session_roster": "session_roster"}[table]
        assert loaded == sum(a[3] for a in audit if a[0] == source and a[1] == entity)

    # Blank (not reported) months: held back, with the month named in the raw record.
    blank = q(warehouse_url, "SELECT record_id, raw_record FROM quarantine_program_sessions "
                             "WHERE source = 'programs_cpl'")
    assert sorted(r[0] for r in blank) == sorted(f"{p}-2023-{m}" for p in ("cpl-walker", "cpl-albany-park",
                                                                            "cpl-whitney-m-young-jr")
                                                 for m in ("11", "12"))
    assert all('"note": "month not reported"' in r[1] for r in blank)

    # Every planted defect is in quarantine with the reason of the expectation it trips.
    reasons = session_reasons()
    for d in feed.defects.itertuples():
        got = q(warehouse_url, "SELECT row_index, reason FROM quarantine_program_sessions WHERE record_id = :id",
                id=d.session_id)
        assert reasons[(d.expectation, d.column)] in {r[1] for r in got}, d.kind
        assert len({r[0] for r in got}) == d.n_rows, d.kind
    assert q(warehouse_url, "SELECT count(*) FROM fct_program_sessions WHERE program_id = :p",
             p=demo.ORPHAN_PROGRAM_ID)[0][0] == 0

    # Sites: CPL points, addresses for branches without one; demo programs where the generator put them.
    sites = dict(q(warehouse_url, "SELECT program_id, geocode_method FROM dim_programs WHERE source = 'programs_cpl'"))
    assert sites["cpl-albany-park"] == "latlon" and sites["cpl-west-loop"] == "address_grid"
    assert sites["cpl-whitney-m-young-jr"] == "address_grid"  # 'not a point' in the 2023 file
    placed = dict(q(warehouse_url, "SELECT program_id, neighborhood_id FROM dim_programs "
                                   "WHERE source = 'programs_demo' AND is_synthetic"))
    assert placed == dict(zip(feed.sites["program_id"], feed.sites["neighborhood_id"]))

    # Privacy: no raw participant id and no site street address in any warehouse table.
    key = pseudonym_key(settings)
    first = feed.roster["PARTICIPANT_ID"].iloc[0]
    assert q(warehouse_url, "SELECT count(*) FROM fct_session_roster WHERE participant_key = :k",
             k=pseudonymize(pd.Series([first]), key).iloc[0])[0][0] >= 1
    raw_ids = set(feed.roster["PARTICIPANT_ID"])
    addresses = list(feed.programs["SITE_ADDRESS"]) + [a for f in [*CPL_TINY, CPL_LOCATIONS]
                                                       for a in pd.read_csv(f, dtype=str)["ADDRESS"]]
    for table, text in all_tables_text(warehouse_url).items():
        assert not set(re.findall(r"\bC\d{6}\b", text)) & raw_ids, table
        assert not [a for a in addresses if address_pattern(a).search(text)], table

    # Rerun: every batch is skipped and nothing changes.
    before = q(warehouse_url, "SELECT count(*) FROM fct_program_sessions")[0][0]
    again = run_library(settings) + demo_programs_flow(settings=settings)
    assert [s["status"] for s in again] == ["skipped"] * 6
    assert q(warehouse_url, "SELECT count(*) FROM fct_program_sessions")[0][0] == before


def test_fixing_a_program_releases_its_orphaned_sessions(prefect_harness, settings_factory, duckdb_url, tmp_path):
    folder = tmp_path / "provider"
    folder.mkdir()
    for name in ("sessions", "roster"):
        shutil.copy(FIXTURES / f"demo_{name}.csv", folder / f"{name}.csv")
    good = (FIXTURES / "demo_programs.csv").read_text()
    (folder / "programs.csv").write_text(good.replace("Outreach,", "Bingo night,"))
    settings = settings_factory(duckdb_url)

    first = demo_programs_flow(folder=str(folder), settings=settings)
    assert [(s["table"], s["rows_loaded"], s["rows_quarantined"]) for s in first] == [
        ("dim_programs", 1, 1), ("fct_program_sessions", 2, 1), ("fct_session_roster", 5, 0)]
    assert q(duckdb_url, "SELECT record_id, reason FROM quarantine_program_sessions") == [
        ("demo-002-20160502", "session of a program that is not in the programs file (orphan)")]

    (folder / "programs.csv").write_text(good)
    second = demo_programs_flow(folder=str(folder), settings=settings)
    # The sessions file is unchanged but its program now exists: it is validated again.
    assert [s["status"] for s in second] == ["loaded", "loaded", "skipped"]
    assert q(duckdb_url, "SELECT count(*) FROM fct_program_sessions")[0][0] == 3
    assert q(duckdb_url, "SELECT count(*) FROM quarantine_program_sessions")[0][0] == 0


CPL_BAD = [
    ("cpl_visitors_bad_count.csv", ["column 'MARCH' holds 'n/a'", "_2021.csv:2"]),
    ("cpl_visitors_no_branch.csv", ["column 'BRANCH' is missing"]),
    ("cpl_visitors_header_only.csv", ["header but no data rows"]),
    ("cpl_visitors_latin1.csv", ["not UTF-8"]),
    ("cpl_visitors_no_march.csv", ["column 'MARCH' is missing"]),
    ("empty.csv", ["empty (0 bytes)"]),
]
DEMO_BAD = [
    ("demo_sessions_bad_count.csv", ["column 'ATTENDEES' holds 'about 20'", "sessions.csv:2"]),
    ("demo_sessions_bad_date.csv", ["column 'SESSION_DATE' holds '14/03/2016'", "sessions.csv:3"]),
    ("demo_sessions_header_only.csv", ["header but no data rows"]),
    ("demo_sessions_latin1.csv", ["not UTF-8"]),
    ("demo_sessions_no_program.csv", ["column 'PROGRAM_ID' is missing"]),
]


@pytest.mark.parametrize("fixture,expected", CPL_BAD + DEMO_BAD, ids=[f for f, _ in CPL_BAD + DEMO_BAD])
def test_bad_input_file_fails_with_one_line(prefect_harness, settings_factory, duckdb_url, tmp_path, fixture,
                                            expected):
    settings = settings_factory(duckdb_url)
    if fixture.startswith("demo_"):
        folder = tmp_path / "provider"
        folder.mkdir()
        shutil.copy(FIXTURES / "demo_programs.csv", folder / "programs.csv")
        shutil.copy(FIXTURES / fixture, folder / "sessions.csv")
        with pytest.raises(PulseError) as e:
            demo_programs_flow(folder=str(folder), settings=settings)
    else:
        path = tmp_path / f"{Path(fixture).stem}_2021.csv"  # the year comes from the file name
        shutil.copy(FIXTURES / fixture, path)
        with pytest.raises(PulseError) as e:
            run_library(settings, [path])
    message = str(e.value)
    assert "\n" not in message and all(part in message for part in expected), message


def test_library_file_without_a_year_in_its_name_is_refused(prefect_harness, settings_factory, duckdb_url, tmp_path):
    path = tmp_path / "cpl_visitors.csv"
    shutil.copy(CPL_TINY[1], path)
    with pytest.raises(PulseError, match="does not say which year"):
        run_library(settings_factory(duckdb_url), [path])


def test_cli_loads_the_real_library_feed(prefect_harness, data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("PULSE_DATA_DIR", str(data_dir))
    monkeypatch.setenv("PULSE_WORK_DIR", str(tmp_path / "work"))
    monkeypatch.delenv("PULSE_WAREHOUSE_URL", raising=False)
    app = typer.Typer()
    register(app)
    result = CliRunner().invoke(app, ["ingest", "programs", "--library"])
    assert result.exit_code == 0, result.output
    url = f"duckdb:///{tmp_path / 'work' / 'pulse.duckdb'}"
    # 80 branches in 2019-2020 and 81 in 2021-2023: 4,836 month cells; Nov-Dec 2023 not reported.
    assert q(url, "SELECT sum(rows_read), sum(rows_loaded), sum(rows_quarantined) FROM load_audit "
                  "WHERE entity = 'program_sessions'") == [(4836, 4674, 162)]
    assert q(url, "SELECT count(*), count(neighborhood_id) FROM dim_programs") == [(81, 81)]
    assert q(url, "SELECT DISTINCT substr(record_id, length(record_id) - 6) FROM quarantine_program_sessions "
                  "ORDER BY 1") == [("2023-11",), ("2023-12",)]


def test_demo_data_command_is_seeded_and_labelled(tmp_path, data_dir, monkeypatch):
    monkeypatch.setenv("PULSE_DATA_DIR", str(data_dir))
    app = typer.Typer()
    register(app)
    for out in ("a", "b"):
        result = CliRunner().invoke(app, ["demo-data", "programs", "--seed", "5", "-o", str(tmp_path / out)])
        assert result.exit_code == 0, result.output
    for name in ("programs.csv", "sessions.csv", "roster.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
        assert set(pd.read_csv(tmp_path / "a" / name, dtype=str)["SYNTHETIC"]) == {"Y"}


def test_pseudonym_key_file_is_private_and_stable(settings_factory):
    settings = settings_factory()
    key = pseudonym_key(settings)
    path = settings.work_dir / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and len(key) >= 32
    assert pseudonym_key(settings) == key
    os.chmod(path, 0o644)
    with pytest.raises(PulseError, match="chmod 600"):
        pseudonym_key(settings)
    given = settings_factory(pseudonym_key="k" * 40)
    assert pseudonym_key(given) == b"k" * 40

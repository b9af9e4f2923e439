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
from typer.testing import CliRunner

from flows.cli.main import app as pulse_app
from tests.police_files import data_dir_with
from flows.feeds import run_feed_group
from flows.programs import demo_folder, demo_programs_flow, generate_demo, library_programs_flow
from flows.secrets import KEY_FILE, pseudonym_key
from schemas.programs import PROGRAM_GEOCODE_METHODS, PROGRAM_GEOCODE_PRECISIONS
from schemas.errors import PulseError
from tasks.ingest.program_feeds import SESSIONS_SUITE, cpl_visitors_reader, demo_reader
from tasks.ingest.pseudonymize import pseudonymize
from tasks.sources import programs_cpl as cpl
from tasks.sources import programs_demo as demo
from tasks.synthetic import programs as demo_gen

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "data" / "programs"
CPL_TINY = [FIXTURES / "cpl_visitors_tiny_2019.csv", FIXTURES / "cpl_visitors_tiny_2023.csv"]
CPL_LOCATIONS = FIXTURES / "cpl_locations_tiny.csv"
DIRECTIONS = {"N", "S", "E", "W", "NORTH", "SOUTH", "EAST", "WEST"}


def q(url: str, sql: str, **params):
    from warehouse.resource import Warehouse

    engine = Warehouse(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(sql), params).all()
    finally:
        engine.close()


def all_tables_text(url: str) -> dict[str, str]:
    """Return every warehouse table's rows as one string per table."""
    names = [r[0] for r in q(url, "SELECT table_name FROM information_schema.tables WHERE table_schema "
                                  "NOT IN ('information_schema', 'pg_catalog')")]
    return {n: "\n".join(" | ".join(map(str, row)) for row in q(url, f'SELECT * FROM "{n}"')) for n in names}


def address_key(address: str) -> tuple[str, str]:
    """(house number, street name) of an address: '3401 W. Foster Ave.' -> ('3401', 'foster')."""
    tokens = [t for t in re.split(r"[\s.,]+", address) if t]
    return tokens[0], next(t for t in tokens[1:] if t.upper() not in DIRECTIONS).lower()


NUMBER_STREET = re.compile(r"\b(\d{1,6})[\s.]+(?:(?:[NSEW]|north|south|east|west)[\s.]+)?([a-z0-9]+)", re.IGNORECASE)


def addresses_in(text: str, keys: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which of the (number, street) keys appear in the text, however the street is spelled after the name."""
    return {(n, name.lower()) for n, name in NUMBER_STREET.findall(text)} & keys


def session_reasons() -> dict[tuple[str, str], str]:
    suite = json.loads(SESSIONS_SUITE.read_text())
    return {(e["type"], e["kwargs"].get("column") or e["kwargs"].get("column_A")): e["meta"]["reason"]
            for e in suite["expectations"]}


def run_library(settings, files=CPL_TINY):
    return library_programs_flow(settings=settings, files=[str(f) for f in files], locations_file=str(CPL_LOCATIONS))


def tiny_city(tmp_path: Path, data_dir: Path) -> tuple[Path, Path]:
    """A data folder (real data linked in, the tiny CPL fixtures copied under ``fixtures/``) and the
    Chicago config with the CPL feed pointed at those fixtures; configured inputs stay in the data folder."""
    import shutil

    root = data_dir_with(tmp_path, data_dir, {})
    (root / "fixtures").mkdir(exist_ok=True)
    for f in (*CPL_TINY, CPL_LOCATIONS):
        shutil.copy(f, root / "fixtures" / Path(f).name)
    config = (REPO / "config" / "chicago.toml").read_text()
    files = ", ".join(f'"fixtures/{Path(f).name}"' for f in CPL_TINY)
    config = re.sub(r"(\[sources\.programs_cpl\][^\[]*?)files = \[[^\]]*\]", rf"\1files = [{files}]", config)
    config = config.replace('"programs/cpl_locations_hours_contact.csv"', f'"fixtures/{Path(CPL_LOCATIONS).name}"')
    path = tmp_path / "city.toml"
    path.write_text(config)
    return path, root


def test_program_feeds_load_every_row_or_quarantine_it_and_rerun_skips(prefect_harness, settings_factory,
                                                                       warehouse_url, tmp_path, data_dir):
    config, root = tiny_city(tmp_path, data_dir)
    settings = settings_factory(warehouse_url, city_config=config, data_dir=root)
    feed = generate_demo(settings, demo_folder(settings))  # where the flow looks; seeded like the flow's default
    out = run_feed_group("programs", settings=settings)

    assert [(s["table"], s["status"]) for s in out] == [
        ("dim_programs", "loaded"), ("fct_program_sessions", "loaded"), ("fct_program_sessions", "loaded"),
        ("dim_programs", "loaded"), ("fct_program_sessions", "loaded"), ("fct_session_roster", "loaded")]
    audit = q(warehouse_url, "SELECT source, entity, sum(rows_read), sum(rows_loaded), sum(rows_quarantined) "
                             "FROM load_audit WHERE status = 'loaded' GROUP BY source, entity")
    assert all(read == loaded + held for _, _, read, loaded, held in audit)
    totals = {(src, entity): (read, loaded, held) for src, entity, read, loaded, held in audit}
    # CPL: 4 branches in the 2019 file, 3 in 2023 (Albany Park in both): 84 month cells, 6 not reported.
    assert totals[("programs_cpl", "program_sessions")] == (84, 78, 6)
    assert totals[("programs_cpl", "programs")] == (6, 6, 0)
    assert totals[("programs_demo", "programs")][0] == len(feed.programs)
    assert totals[("programs_demo", "program_sessions")][0] == len(feed.sessions)
    assert totals[("programs_demo", "session_roster")][0] == len(feed.roster)
    for table, entity in (("dim_programs", "programs"), ("fct_program_sessions", "program_sessions"),
                          ("fct_session_roster", "session_roster")):
        by_source = dict(q(warehouse_url, f"SELECT source, count(*) FROM {table} GROUP BY source"))
        assert by_source == {src: totals[(src, e)][1] for src, e in totals if e == entity}, table

    # Blank (not reported) months are held back, the month named in the raw record.
    blank = q(warehouse_url, "SELECT record_id, raw_record FROM quarantine_program_sessions "
                             "WHERE source = 'programs_cpl'")
    assert sorted(r[0] for r in blank) == sorted(f"cpl-{b}-2023-{m}" for b in ("walker", "albany-park",
                                                                               "whitney-m-young-jr")
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
             p=demo_gen.ORPHAN_PROGRAM_ID)[0][0] == 0

    # Sites: points where the files give one, else the street address.
    sites = {p: (m, n) for p, m, n in q(warehouse_url, "SELECT program_id, geocode_method, neighborhood_id "
                                                       "FROM dim_programs WHERE source = 'programs_cpl'")}
    assert sites["cpl-albany-park"][0] == "latlon"  # the 2023 point wins over the 2019 locations file
    assert sites["cpl-legler-regional"] == ("latlon", "26")  # 2019 only: matched to the locations file by name
    assert sites["cpl-harold-washtington-library-center"][0] == "latlon"  # ... and by address
    # No point at all (West Loop is not in the locations file; Whitney's is 'not a point'): by address.
    assert sites["cpl-west-loop"] == ("address_grid", "28") and sites["cpl-whitney-m-young-jr"][0] == "address_grid"
    started = dict(q(warehouse_url, "SELECT program_id, started_on FROM dim_programs"))
    assert str(started["cpl-albany-park"])[:10] == "2019-01-01" and str(started["cpl-walker"])[:10] == "2023-01-01"
    methods = q(warehouse_url, "SELECT DISTINCT geocode_method, geocode_precision FROM dim_programs")
    assert {m for m, _ in methods} <= set(PROGRAM_GEOCODE_METHODS)
    assert {p for _, p in methods} <= set(PROGRAM_GEOCODE_PRECISIONS)
    # The synthetic programs sit where the generator put them (high drug-incident areas), by address.
    placed = q(warehouse_url, "SELECT program_id, neighborhood_id, geocode_method FROM dim_programs "
                              "WHERE source = 'programs_demo' AND is_synthetic")
    assert {p: n for p, n, _ in placed} == dict(zip(feed.sites["program_id"], feed.sites["neighborhood_id"]))
    assert {m for _, _, m in placed} <= {"address_grid", "intersection", "grid_crossing"}

    # Privacy: no raw participant id and no site street address in any warehouse table.
    first = feed.roster["PARTICIPANT_ID"].iloc[0]
    assert q(warehouse_url, "SELECT count(*) FROM fct_session_roster WHERE participant_key = :k",
             k=pseudonymize(pd.Series([first]), pseudonym_key(settings)).iloc[0])[0][0] >= 1
    raw_ids = set(feed.roster["PARTICIPANT_ID"])
    addresses = list(feed.programs["SITE_ADDRESS"]) + [a for f in [*CPL_TINY, CPL_LOCATIONS]
                                                       for a in pd.read_csv(f, dtype=str)["ADDRESS"]]
    keys = {address_key(a) for a in addresses}
    for table, text in all_tables_text(warehouse_url).items():
        assert not set(re.findall(r"\bC\d{6}\b", text)) & raw_ids, table
        assert not addresses_in(text, keys), table

    # Rerun: every batch is skipped and nothing changes.
    before = q(warehouse_url, "SELECT count(*) FROM fct_program_sessions")[0][0]
    assert {s["status"] for s in run_feed_group("programs", settings=settings)} == {"skipped"}
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


def bad_library_file(tmp_path: Path, fixture: str) -> Path:
    path = tmp_path / f"{Path(fixture).stem}_2021.csv"  # the year comes from the file name
    shutil.copy(FIXTURES / fixture, path)
    return path


def bad_demo_folder(tmp_path: Path, fixture: str) -> Path:
    folder = tmp_path / "provider"
    folder.mkdir()
    shutil.copy(FIXTURES / "demo_programs.csv", folder / "programs.csv")
    shutil.copy(FIXTURES / fixture, folder / "sessions.csv")
    return folder


def read_and_standardize(feed: str, path: Path):
    """What a flow does with one file before loading it: read it for landing, then standardize it."""
    if feed == "cpl":
        raw = pd.concat(b.to_pandas() for b in cpl_visitors_reader(path))
        raw.attrs["source_path"] = str(path)
        return cpl.to_standard(raw, cpl.year_of(path))
    raw = pd.concat(b.to_pandas() for b in demo_reader("sessions")(path))
    raw.attrs["source_path"] = str(path)
    return demo.sessions_to_standard(raw)


@pytest.mark.parametrize("feed,fixture,expected", [("cpl", *c) for c in CPL_BAD] + [("demo", *c) for c in DEMO_BAD],
                         ids=[f for f, _ in CPL_BAD + DEMO_BAD])
def test_bad_input_file_gives_one_line_error(tmp_path, feed, fixture, expected):
    path = bad_library_file(tmp_path, fixture) if feed == "cpl" else bad_demo_folder(tmp_path, fixture) / "sessions.csv"
    with pytest.raises(PulseError) as e:
        read_and_standardize(feed, path)
    message = str(e.value)
    assert "\n" not in message and all(part in message for part in expected), message


@pytest.mark.parametrize("feed,fixture", [("cpl", "cpl_visitors_bad_count.csv"), ("demo", "demo_sessions_no_program.csv")])
def test_bad_input_file_fails_the_flow_with_the_same_line(prefect_harness, settings_factory, duckdb_url, tmp_path,
                                                          feed, fixture):
    settings = settings_factory(duckdb_url)
    with pytest.raises(PulseError) as e:
        if feed == "cpl":
            run_library(settings, [bad_library_file(tmp_path, fixture)])
        else:
            demo_programs_flow(folder=str(bad_demo_folder(tmp_path, fixture)), settings=settings)
    expected = dict(CPL_BAD + DEMO_BAD)[fixture]
    assert "\n" not in str(e.value) and all(part in str(e.value) for part in expected), str(e.value)


def test_library_file_without_a_year_in_its_name_is_refused(tmp_path):
    path = tmp_path / "cpl_visitors.csv"
    shutil.copy(CPL_TINY[1], path)
    with pytest.raises(PulseError, match="does not say which year"):
        list(cpl_visitors_reader(path))


def test_cli_loads_the_real_library_feed(prefect_harness, data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("PULSE_DATA_DIR", str(data_dir))
    monkeypatch.setenv("PULSE_WORK_DIR", str(tmp_path / "work"))
    monkeypatch.delenv("PULSE_WAREHOUSE_URL", raising=False)
    app = pulse_app
    result = CliRunner().invoke(app, ["ingest", "programs", "--library"])
    assert result.exit_code == 0, result.output
    url = f"duckdb:///{tmp_path / 'work' / 'pulse.duckdb'}"
    # 80 branches in 2019-2020 and 81 in 2021-2023: 4,836 month cells; Nov-Dec 2023 not reported.
    assert q(url, "SELECT sum(rows_read), sum(rows_loaded), sum(rows_quarantined) FROM load_audit "
                  "WHERE entity = 'program_sessions'") == [(4836, 4674, 162)]
    assert q(url, "SELECT count(*), count(neighborhood_id) FROM dim_programs") == [(81, 81)]
    assert q(url, "SELECT DISTINCT substr(record_id, length(record_id) - 6) FROM quarantine_program_sessions "
                  "ORDER BY 1") == [("2023-11",), ("2023-12",)]


def test_demo_data_command_writes_labelled_files(tmp_path, data_dir, monkeypatch):
    monkeypatch.setenv("PULSE_DATA_DIR", str(data_dir))
    app = pulse_app
    result = CliRunner().invoke(app, ["demo-data", "programs", "--seed", "5", "-o", str(tmp_path / "out")])
    assert result.exit_code == 0 and "SYNTHETIC" in result.output, result.output
    for name in ("programs.csv", "sessions.csv", "roster.csv"):
        assert set(pd.read_csv(tmp_path / "out" / name, dtype=str)["SYNTHETIC"]) == {"Y"}


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

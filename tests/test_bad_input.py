"""Every malformed file in tests/data/bad/ ends in one clear line or in quarantine with a reason.

The expected outcome of each file is the table in tests/data/bad/README.md (the single source);
this module runs the police files, tests/test_bad_input_feeds.py the other feeds (each file
stays under three minutes).
``error`` means the run raises one ``PulseError`` line that names the file and contains the
given text; ``quarantine`` means the batch loads with the given reason among its quarantined
rows; ``loaded`` means every row loads. For every loaded batch rows_read = loaded + quarantined.
"""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from schemas.errors import PulseError
from tests.warehouse_sql import q

BAD = Path(__file__).resolve().parent / "data" / "bad"
PROGRAMS = Path(__file__).resolve().parent / "data" / "programs"
KEY = "bad-input-test-key-0123456789abcdef0123456789abcdef"
FORMULAS = ("=cmd|' /C calc'!A0", "+SUM(1,2)", '@HYPERLINK("http://example.invalid")', "-2+3", "=1+1")


def expectations() -> list[tuple[str, str, str]]:
    """(file, outcome, text) rows of the README table."""
    rows = []
    for line in (BAD / "README.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].startswith("`"):
            rows.append((cells[0].strip("`"), cells[2].split(":")[0].strip("* "), cells[3].strip("`")))
    return rows


EXPECTED = expectations()
# Files whose run currently ends in an unhandled exception: strict xfail, so a fix shows up.
KNOWN_BUGS: dict[str, str] = {}


def bad_file_params(police: bool):
    """The corpus rows of the police feed (this module) or of the other feeds (test_bad_input_feeds.py)."""
    return [pytest.param(*e, id=e[0], marks=[pytest.mark.xfail(reason=KNOWN_BUGS[e[0]], strict=True)]
                         if e[0] in KNOWN_BUGS else []) for e in EXPECTED if e[0].startswith("police_") == police]




def run_feed(path: Path, settings, tmp: Path) -> list[dict]:
    """Run the flow that reads this kind of file; return its batch summaries."""
    name = path.name
    if name.startswith("police_"):
        from flows.police_incidents import police_incidents_flow

        return police_incidents_flow(settings=settings, files=[str(path)])
    if name.startswith("treatment_"):
        from flows.treatment import treatment_flow

        return treatment_flow(settings=settings, file=str(path))
    if name.startswith("teds_"):
        from flows.treatment import teds_flow

        return teds_flow(settings=settings, files=[str(path)])
    if name.startswith("cpl_visitors_"):
        from flows.programs import library_programs_flow

        return library_programs_flow(settings=settings, files=[str(path)],
                                     locations_file=str(PROGRAMS / "cpl_locations_tiny.csv"))
    if name.startswith("demo_"):
        from flows.programs import demo_programs_flow

        kind = name.split("_")[1]  # programs | sessions | roster
        folder = tmp / "demo"
        folder.mkdir()
        for k, good in (("programs", "demo_programs.csv"), ("sessions", "demo_sessions.csv"),
                        ("roster", "demo_roster.csv")):
            shutil.copy(path if k == kind else PROGRAMS / good, folder / f"{k}.csv")
        return demo_programs_flow(settings=settings, folder=str(folder))
    raise AssertionError(f"no feed for {name}")


def entity_tables(url: str) -> list[str]:
    return [r[0] for r in q(url, "SELECT DISTINCT entity FROM load_audit WHERE status = 'loaded'")]


def test_the_corpus_is_complete():
    files = sorted(p.name for p in BAD.iterdir() if p.name != "README.md")
    assert sorted(f for f, _, _ in EXPECTED) == files
    assert len(files) >= 30
    feeds = {f.split("_")[0] for f in files}
    assert {"police", "treatment", "teds", "cpl", "demo"} <= feeds


@pytest.mark.parametrize("name,outcome,text", bad_file_params(police=True))
def test_bad_police_file(prefect_harness, settings_factory, duckdb_url, tmp_path, name, outcome, text):
    check_bad_file(settings_factory, duckdb_url, tmp_path, name, outcome, text)


def check_bad_file(settings_factory, duckdb_url: str, tmp_path: Path, name: str, outcome: str, text: str) -> None:
    """Run one corpus file through its feed's flow and check the outcome the README gives."""
    path = BAD / name
    settings = settings_factory(duckdb_url, pseudonym_key=KEY)
    if outcome == "error":
        with pytest.raises(PulseError) as err:
            run_feed(path, settings, tmp_path)
        msg = str(err.value)
        assert "\n" not in msg and "Traceback" not in msg
        names = [name, f"{name.split('_')[1]}.csv"] if name.startswith("demo_") else [name]
        assert any(n in msg for n in names), f"message does not name the file: {msg}"
        assert text.lower() in msg.lower(), msg
        return
    summaries = run_feed(path, settings, tmp_path)
    for s in summaries:
        if s["status"] == "loaded":
            assert s["rows_read"] == s["rows_loaded"] + s["rows_quarantined"], s
    mine = [s for s in summaries if name in str(s.get("origin")) or name.startswith("demo_")]
    assert mine, summaries
    audit = q(duckdb_url, "SELECT rows_read, rows_loaded, rows_quarantined FROM load_audit WHERE status = 'loaded'")
    assert all(r == l + qq for r, l, qq in audit)
    reasons = []
    for entity in entity_tables(duckdb_url):
        reasons += [r[0] for r in q(duckdb_url, f"SELECT reason FROM quarantine_{entity}")]
    if "formula" in name:
        assert_formulas_inert(duckdb_url, path)
    if outcome == "loaded":
        assert sum(s["rows_quarantined"] for s in mine) == 0 and reasons == [], reasons
    else:
        assert sum(s["rows_quarantined"] for s in mine) > 0
        assert any(text.lower() in r.lower() for r in reasons), reasons  # "" matches any reason


def assert_formulas_inert(url: str, path: Path) -> None:
    """Formula-like values of the file are stored byte for byte as text (never evaluated or rewritten)."""
    stored = set()
    for (table,) in q(url, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"):
        for row in q(url, f'SELECT * FROM "{table}"'):
            for v in row:
                if not isinstance(v, str):
                    continue
                stored.add(v)
                if v.startswith("{"):  # quarantine keeps the raw row as JSON
                    try:
                        stored |= {x for x in json.loads(v).values() if isinstance(x, str)}
                    except ValueError:
                        pass
    present = [f for f in FORMULAS if f in path.read_text()]
    assert present and any(f in stored for f in present), present


@pytest.mark.slow
def test_100_mb_single_line(prefect_harness, settings_factory, duckdb_url, tmp_path):
    """A data row with a 100 MB field fails with one line naming the file (no crash, no hang)."""
    header = (BAD / "police_header_only.csv").read_bytes()
    path = tmp_path / "police_huge_line.csv"
    with open(path, "wb") as fh:
        fh.write(header + b"90000001,JZ1,01/05/2016 10:15:00 PM,012XX W MADISON ST,2027,NARCOTICS,")
        block = b"A" * (1 << 20)
        for _ in range(100):
            fh.write(block)
        fh.write(b",STREET,true,false,1224,012,27,28,18,1167500,1900300,2016,01/12/2016 08:46:55 AM,"
                 b"41.8818,-87.6575,\n")
    settings = settings_factory(duckdb_url)
    from flows.police_incidents import police_incidents_flow

    with pytest.raises(PulseError) as err:
        police_incidents_flow(settings=settings, files=[str(path)])
    msg = str(err.value)
    assert "\n" not in msg and path.name in msg
    assert q(duckdb_url, "SELECT count(*) FROM fct_incidents")[0][0] == 0


@pytest.mark.slow
def test_20_mb_line_without_a_newline(prefect_harness, settings_factory, duckdb_url, tmp_path):
    """A file that is one long line (no header end) fails with one short line.

    NOTE: 20 MB, not 100: tasks/sources/csv_reader.py::check_columns takes ~35 s on a 100 MB
    header line (list membership and difflib over 52M fields); see the issue report.
    """
    path = tmp_path / "police_one_line.csv"
    with open(path, "wb") as fh:
        for _ in range(20):
            fh.write(b"x," * (1 << 19))
    from flows.police_incidents import police_incidents_flow

    with pytest.raises(PulseError) as err:
        police_incidents_flow(settings=settings_factory(duckdb_url), files=[str(path)])
    msg = str(err.value)
    assert "\n" not in msg and path.name in msg and len(msg) < 2000, msg[:300]


def test_geocode_csv_output_neutralises_formulas(data_dir, tmp_path):
    """CSV the pipeline writes for people to open (``pulse geocode``) cannot run a formula."""
    import csv

    from tasks.geocode.csv_file import geocode_csv
    from flows.settings import Settings
    from flows.treatment import city_address_geocoder

    src = tmp_path / "in.csv"
    src.write_text('NAME,ADDRESS\n"=cmd|\' /C calc\'!A0",1 N STATE ST\n+SUM(1),@x\n-2+3,=1+1\n')
    dest = tmp_path / "out.csv"
    geocode_csv(src, dest, city_address_geocoder(Settings(data_dir=data_dir)), "ADDRESS")
    cells = [c for row in csv.reader(dest.open()) for c in row]
    live = [c for c in cells if re.match(r"^[=+\-@\t\r]", c) and not re.fullmatch(r"-?\d+(\.\d+)?", c)]
    assert not live, live

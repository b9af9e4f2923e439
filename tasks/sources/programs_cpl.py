"""Chicago Public Library "Visitors by Location" (2019-2023): wide yearly files -> programs + monthly sessions.

Each branch is one program (type ``library``); each branch and month is one session row with
``period = 'month'`` (door counts, not meetings). Quirks handled here, per PROVENANCE.md:
- NOTE: the branch column is ``LOCATION`` in 2019 and ``BRANCH`` from 2020, when ``LOCATION``
  becomes the WKT point (``POINT (lon lat)``); 2022-2023 spell it ``Location``.
- NOTE: 2019 has no coordinates: they come from ``cpl_locations_hours_contact.csv`` (c. 2017;
  UTF-8 BOM, header ``NAME `` with a trailing space, ``LOCATION`` as ``"(lat, lon)"``), matched
  by normalized name, then by street address. Names differ: "Legler Regional" vs "Legler",
  "Harold Washtington Library Center" (sic) vs "Harold Washington-HWLC".
- NOTE: April-May 2020 are 0 (COVID closures): real zeros, kept.
- NOTE: November-December 2023 are blank (not yet reported): no session row, counted in
  ``skipped`` with reason 'month not reported'. ``cells`` keeps every month cell (blank ones
  with a null count) so a loader can account for each cell read.
- NOTE: Altgeld moved from 13281 S. Corliss Ave. to 955 E. 131st St. in 2021; ``combine``
  keeps the latest site and reports the move.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import shapely
import usaddress

from schemas.programs import PROGRAMS, SESSIONS
from schemas.errors import InputError
from tasks.sources.csv_reader import check_columns, check_delimiter, iter_csv_batches, read_header

SLUG = "programs_cpl"
SPONSOR = "Chicago Public Library"
YEARS = (2019, 2020, 2021, 2022, 2023)
MONTHS = ("JANUARY", "FEBRUARY", "MARCH", "APRIL", "MAY", "JUNE", "JULY", "AUGUST", "SEPTEMBER",
          "OCTOBER", "NOVEMBER", "DECEMBER")
VISITORS_FILE = "cpl_visitors_by_location_{year}.csv"
LOCATIONS_FILE = "cpl_locations_hours_contact.csv"
LOCATIONS_REQUIRED = ("NAME", "ADDRESS", "LOCATION")
NOT_REPORTED = "month not reported"
# Words that one CPL file adds to a branch name and another omits.
NAME_NOISE = {"library", "regional", "branch", "center", "centre"}

ISSUE_COLUMNS = ("where", "branch", "column", "severity", "problem")
SKIPPED_COLUMNS = ("where", "branch", "month", "session_id", "reason", "raw_value")
# One row per month cell read, in file order: the long form of a yearly file.
CELL_COLUMNS = ("where", "branch", "month", "session_id", "program_id", "session_date", "attendees", "raw_value",
                "note")


class CplFeed(NamedTuple):
    """Standardized CPL data plus everything needed to account for each month cell read."""

    programs: pd.DataFrame  # PROGRAMS columns, one row per branch
    sessions: pd.DataFrame  # SESSIONS columns, one row per branch and reported month
    site_addresses: pd.Series  # 'site_address', same index as programs; dropped after geocoding
    skipped: pd.DataFrame  # SKIPPED_COLUMNS, one row per month cell that made no session
    issues: pd.DataFrame  # ISSUE_COLUMNS: warnings (YTD mismatch, no coordinates) and info (site moved)
    n_read: int  # month cells read = len(sessions) + len(skipped)
    cells: pd.DataFrame | None = None  # CELL_COLUMNS, n_read rows: sessions and skipped cells together


# ---------------------------------------------------------------- reading (IO)

def _read_text_rows(path: Path, header: list[str]) -> pd.DataFrame:
    batches = list(iter_csv_batches(path))
    if not batches or sum(b.num_rows for b in batches) == 0:
        raise InputError(path, "file has a header but no data rows", "Re-export the file with its rows")
    frame = pa.Table.from_batches(batches).to_pandas()
    frame.columns = header
    frame.attrs["source_path"] = str(path)
    return frame


def _key_and_point_columns(columns) -> tuple[str | None, str | None]:
    """Return (branch column, WKT point column) of a visitors file header."""
    upper = {c.upper(): c for c in columns}
    if "BRANCH" in upper:
        return upper["BRANCH"], upper.get("LOCATION")
    return upper.get("LOCATION"), None


def read_raw(path: Path | str) -> pd.DataFrame:
    """Return one yearly visitors file as text, one row per branch (blank cells are null)."""
    path = Path(path)
    header = read_header(path)
    check_delimiter(path, header, ["ADDRESS", *MONTHS])
    key, _ = _key_and_point_columns(header)
    if key is None:
        raise InputError(path, "branch column is missing (expected 'BRANCH', or 'LOCATION' in 2019 files)",
                         "Add the branch name column")
    check_columns(path, header, ["ADDRESS", *MONTHS])
    raw = _read_text_rows(path, header)
    if key.upper() == "LOCATION" and raw[key].fillna("").str.strip().str.upper().str.startswith("POINT").any():
        raise InputError(path, "column 'BRANCH' is missing ('LOCATION' holds points, not branch names)",
                         "Add the branch name column")
    return raw


def read_locations(path: Path | str) -> pd.DataFrame:
    """Return the CPL locations file as text, one row per branch (header names stripped)."""
    path = Path(path)
    header = read_header(path)  # strips the BOM and the trailing space of 'NAME '
    check_columns(path, header, LOCATIONS_REQUIRED)
    return _read_text_rows(path, header)


# ---------------------------------------------------------------- matching helpers

def branch_slug(name: str) -> str:
    """Return the id-safe form of a branch name ("Whitney M. Young, Jr." -> whitney-m-young-jr)."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def _name_key(name: str) -> str:
    words = re.sub(r"[^a-z0-9]+", " ", name.lower()).split()
    return " ".join(w for w in words if w not in NAME_NOISE)


def _address_key(address: str) -> tuple | None:
    """Return (number, pre-direction initial, street name) of a street address, or None."""
    try:
        tags, _ = usaddress.tag(address)
    except usaddress.RepeatedLabelError:
        return None
    number, street = tags.get("AddressNumber"), tags.get("StreetName")
    if not number or not street:
        return None
    direction = tags.get("StreetNamePreDirectional", "")[:1].upper()
    return number, direction, street.lower()


def _parse_latlon_pair(text) -> tuple[float, float]:
    m = re.fullmatch(r"\s*\(\s*(-?[\d.]+)\s*,\s*(-?[\d.]+)\s*\)\s*", text or "")
    return (float(m.group(1)), float(m.group(2))) if m else (np.nan, np.nan)


def _location_lookup(locations: pd.DataFrame) -> tuple[dict, dict]:
    """Return {name key: (lat, lon)} and {address key: (lat, lon)} from the locations file."""
    by_name, by_prefix, by_address = {}, {}, {}
    for name, address, point in zip(locations["NAME"], locations["ADDRESS"], locations["LOCATION"]):
        latlon = _parse_latlon_pair(point)
        if np.isnan(latlon[0]) or not isinstance(name, str):
            continue
        by_name[_name_key(name)] = latlon
        # NOTE: this file appends the neighbourhood after a hyphen ("Daley, Richard J.-Bridgeport").
        if "-" in name:
            by_prefix.setdefault(_name_key(name.rsplit("-", 1)[0]), []).append(latlon)
        if isinstance(address, str) and (akey := _address_key(address)):
            by_address[akey] = latlon
    for key, hits in by_prefix.items():
        if len(hits) == 1 and key not in by_name:
            by_name[key] = hits[0]
    return by_name, by_address


# ---------------------------------------------------------------- standardizing (pure)

def _issue(where, branch, column, severity, problem) -> dict:
    return dict(zip(ISSUE_COLUMNS, (where, branch, column, severity, problem)))


def _parse_count(value, where: str, column: str) -> int | None:
    if value is None or (isinstance(value, float) and np.isnan(value)) or not str(value).strip():
        return None
    text = str(value).strip().replace(",", "")
    if not re.fullmatch(r"-?\d{1,15}", text):  # 15 digits: a count, not an overflow of the 64-bit column
        raise InputError(where, f"column '{column}' holds {value!r}, not a whole number of visitors",
                         "Fix the cell or leave it blank if the month was not reported")
    return int(text)


def _site_point(rec: dict, branch: str, point_col: str | None, lookup: tuple[dict, dict] | None
                ) -> tuple[float, float, tuple[str, str] | None]:
    """Return (lat, lon, (severity, problem) or None) of one branch row."""
    if point_col is not None:
        text = rec[point_col] if isinstance(rec[point_col], str) else ""
        geom = shapely.from_wkt(text, on_invalid="ignore") if text.strip() else None
        if geom is not None and geom.geom_type == "Point":
            return geom.y, geom.x, None
        return np.nan, np.nan, ("warning", f"point {text!r} is not WKT 'POINT (lon lat)'; "
                                           "geocode the site from its address")
    if lookup is None:
        return np.nan, np.nan, ("warning", "no point column and no locations file; geocode the site from its address")
    by_name, by_address = lookup
    name = _name_key(branch)
    if name in by_name:
        return *by_name[name], None
    akey = _address_key(rec["ADDRESS"]) if isinstance(rec["ADDRESS"], str) else None
    if akey in by_address:
        return *by_address[akey], ("info", f"matched to {LOCATIONS_FILE} by address {rec['ADDRESS']!r}, not by name")
    return np.nan, np.nan, ("warning", f"branch not found in {LOCATIONS_FILE} by name or address; "
                                       "coordinates left null, geocode the site from its address")


def to_standard(raw: pd.DataFrame, year: int, locations: pd.DataFrame | None = None) -> CplFeed:
    """Return programs (one per branch) and sessions (one per branch and reported month) of one year.

    ``locations`` (``read_locations``) supplies coordinates when the file has no point column.
    """
    source_file = raw.attrs.get("source_path", VISITORS_FILE.format(year=year))
    key, point_col = _key_and_point_columns(raw.columns)
    if key is None:
        raise InputError(source_file, "branch column is missing (expected 'BRANCH' or 'LOCATION')",
                         "Add the branch name column")
    lookup = _location_lookup(locations) if locations is not None and point_col is None else None
    programs, addresses, sessions, skipped, issues, cells = [], [], [], [], [], []
    n_read = 0
    for pos, row in enumerate(raw.itertuples(index=False)):
        rec = dict(zip(raw.columns, row))
        where = f"{source_file}:{pos + 2}"  # line 1 is the header
        branch = rec[key].strip() if isinstance(rec[key], str) else ""
        if not branch:
            raise InputError(where, f"column '{key}' (branch name) is blank", "Fill in the branch name")
        program_id = f"cpl-{branch_slug(branch)}"
        counts, first_month = [], None
        for m, month in enumerate(MONTHS, start=1):
            n_read += 1
            count = _parse_count(rec[month], where, month)
            session_id = f"{program_id}-{year}-{m:02d}"
            cells.append((where, branch, f"{year}-{m:02d}", session_id, program_id, pd.Timestamp(year, m, 1), count,
                          rec[month], NOT_REPORTED if count is None else None))
            if count is None:
                skipped.append(dict(zip(SKIPPED_COLUMNS, (where, branch, f"{year}-{m:02d}", session_id,
                                                          NOT_REPORTED, rec[month]))))
                continue
            counts.append(count)
            first_month = first_month or m
            sessions.append((session_id, program_id, pd.Timestamp(year, m, 1), count))
        ytd = _parse_count(rec.get("YTD"), where, "YTD") if "YTD" in rec else None
        if ytd is None:
            issues.append(_issue(where, branch, "YTD", "warning", "YTD is blank or missing; months not cross-checked"))
        elif ytd != sum(counts):
            issues.append(_issue(where, branch, "YTD", "warning",
                                 f"YTD {ytd} differs from the sum of reported months {sum(counts)}"))
        lat, lon, problem = _site_point(rec, branch, point_col, lookup)
        if problem:
            issues.append(_issue(where, branch, point_col or key, *problem))
        first = pd.Timestamp(year, first_month or 1, 1)
        programs.append(_program_row(program_id, branch, lat, lon, first))
        addresses.append(_full_address(rec))
    return CplFeed(
        programs=PROGRAMS.coerce(pd.DataFrame(programs, columns=PROGRAMS.column_names)),
        sessions=_sessions_frame(sessions),
        site_addresses=pd.Series(addresses, dtype="str", name="site_address"),
        skipped=pd.DataFrame(skipped, columns=list(SKIPPED_COLUMNS)).astype("str"),
        issues=pd.DataFrame(issues, columns=list(ISSUE_COLUMNS)).astype("str"),
        n_read=n_read,
        cells=_cells_frame(cells),
    )


def _cells_frame(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(CELL_COLUMNS))
    types = {c: "str" for c in CELL_COLUMNS} | {"session_date": "datetime64[us]", "attendees": "Int64"}
    return frame.astype(types)


def cells_to_sessions(cells: pd.DataFrame) -> pd.DataFrame:
    """Return one SESSIONS row per month cell (same index); a month not reported has null attendees.

    The sessions suite (expectations/program_sessions.json) quarantines those null counts, so
    every cell read is either loaded or held back with its reason.
    """
    frame = cells[["session_id", "program_id", "session_date", "attendees"]].copy()
    frame["period"] = "month"
    frame["new_participants"] = pd.NA  # door counts say nothing about first visits
    frame["is_synthetic"] = False
    frame["source"] = SLUG
    return SESSIONS.coerce(frame)


def year_of(path: Path | str) -> int:
    """Return the year a visitors file covers, from its name (``..._2019.csv`` -> 2019)."""
    years = re.findall(r"(?<!\d)(?:19|20)\d{2}(?!\d)", Path(path).name)
    if not years:
        raise InputError(path, "file name does not say which year it covers",
                         "Name the file like cpl_visitors_by_location_2019.csv")
    return int(years[-1])


def _program_row(program_id: str, branch: str, lat: float, lon: float, started: pd.Timestamp) -> dict:
    return {
        "program_id": program_id, "name": f"{branch} (Chicago Public Library)", "program_type": "library",
        "sponsor": SPONSOR, "site_name": branch, "latitude": lat, "longitude": lon,
        "neighborhood_id": None, "geocode_method": "none", "geocode_precision": "none",  # set by tasks/geocode/points.py
        "match_score": np.nan, "started_on": started, "ended_on": pd.NaT, "is_synthetic": False, "source": SLUG,
    }


def _full_address(rec: dict) -> str:
    parts = [str(rec.get(c) or "").strip() for c in ("ADDRESS", "CITY")]
    zip_code = str(rec.get("ZIP") or "").strip()
    return ", ".join(p for p in parts if p) + (f", IL {zip_code}" if zip_code else "")


def _sessions_frame(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["session_id", "program_id", "session_date", "attendees"])
    frame["period"] = "month"
    frame["new_participants"] = pd.NA  # door counts say nothing about first visits
    frame["is_synthetic"] = False
    frame["source"] = SLUG
    return SESSIONS.coerce(frame)


def combine(feeds: list[CplFeed]) -> CplFeed:
    """Return one feed from several years (given oldest first): one program per branch.

    A program keeps its earliest ``started_on`` and its latest site (name, coordinates, address);
    each change of street address between years is reported as an 'info' issue.
    """
    programs = pd.concat([f.programs for f in feeds], ignore_index=True)
    addresses = pd.concat([f.site_addresses for f in feeds], ignore_index=True)
    issues = [f.issues for f in feeds]
    moves = []
    previous: dict[str, str] = {}
    # A one-year feed's started_on lies in its file's year, which dates the move.
    for pid, address, seen in zip(programs["program_id"], addresses, programs["started_on"]):
        old = previous.get(pid)
        if old is not None and _address_key(old) != _address_key(address):
            moves.append(_issue(VISITORS_FILE.format(year=seen.year), pid, "ADDRESS", "info",
                                f"site moved from {old!r} to {address!r} in {seen.year}; "
                                "the program keeps its latest site"))
        previous[pid] = address
    if moves:
        issues.append(pd.DataFrame(moves, columns=list(ISSUE_COLUMNS)).astype("str"))
    started = programs.groupby("program_id")["started_on"].min()
    latest = ~programs["program_id"].duplicated(keep="last")
    merged = programs[latest].copy()
    merged["started_on"] = merged["program_id"].map(started)
    order = np.argsort(merged["program_id"].to_numpy(), kind="stable")
    merged = merged.iloc[order].reset_index(drop=True)
    site = addresses[latest].iloc[order].reset_index(drop=True)
    return CplFeed(
        programs=PROGRAMS.coerce(merged),
        sessions=pd.concat([f.sessions for f in feeds], ignore_index=True),
        site_addresses=site,
        skipped=pd.concat([f.skipped for f in feeds], ignore_index=True),
        issues=pd.concat(issues, ignore_index=True),
        n_read=sum(f.n_read for f in feeds),
        cells=pd.concat([f.cells for f in feeds], ignore_index=True) if all(f.cells is not None for f in feeds)
        else None,
    )


def read_all(data_dir: Path | str, years: tuple[int, ...] = YEARS, folder: str = "programs") -> CplFeed:
    """Return the combined feed of every yearly visitors file, with 2019 points from the locations file."""
    base = Path(data_dir) / folder
    locations = read_locations(base / LOCATIONS_FILE)
    feeds = [to_standard(read_raw(base / VISITORS_FILE.format(year=y)), y, locations) for y in years]
    return combine(feeds)

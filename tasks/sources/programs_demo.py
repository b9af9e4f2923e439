"""Adapter for the demo programs' provider files (programs.csv, sessions.csv, roster.csv).

The files are written by the seeded generator ``tasks.synthetic.programs`` (every row
``SYNTHETIC = Y``); a real provider sends the same layout without the flag.
"""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa

from schemas.programs import PROGRAMS, ROSTER, SESSIONS
from schemas.errors import ConfigError, InputError
from tasks.ingest.pseudonymize import pseudonymize
from tasks.sources.csv_reader import check_columns, iter_csv_batches, read_header

SLUG = "programs_demo"

PROGRAM_FILE_COLUMNS = ("PROGRAM_ID", "PROGRAM_NAME", "PROGRAM_TYPE", "SPONSOR", "SITE_NAME",
                        "SITE_ADDRESS", "CITY", "STATE", "START_DATE", "END_DATE", "SYNTHETIC")
SESSION_FILE_COLUMNS = ("SESSION_ID", "PROGRAM_ID", "SESSION_DATE", "ATTENDEES", "NEW_PARTICIPANTS", "SYNTHETIC")
ROSTER_FILE_COLUMNS = ("SESSION_ID", "PARTICIPANT_ID", "SYNTHETIC")
FILES = {"programs": ("programs.csv", PROGRAM_FILE_COLUMNS), "sessions": ("sessions.csv", SESSION_FILE_COLUMNS),
         "roster": ("roster.csv", ROSTER_FILE_COLUMNS)}


def _read_file(path: Path, columns) -> pd.DataFrame:
    header = read_header(path)
    check_columns(path, header, [c for c in columns if c != "SYNTHETIC"])  # real providers send no flag
    batches = list(iter_csv_batches(path))
    if not batches or sum(b.num_rows for b in batches) == 0:
        raise InputError(path, "file has a header but no data rows", "Re-export the file with its rows")
    frame = pa.Table.from_batches(batches).to_pandas()
    frame.columns = header
    frame.attrs["source_path"] = str(path)
    return frame


def read_raw(path: Path | str, kind: str) -> pd.DataFrame:
    """Return one provider file (``kind``: programs, sessions or roster) as text, one row per line."""
    if kind not in FILES:
        raise ValueError(f"kind must be one of {sorted(FILES)}, not {kind!r}")
    return _read_file(Path(path), FILES[kind][1])


def read_demo_files(programs_path: Path | str, sessions_path: Path | str, roster_path: Path | str | None = None
                    ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame | None]:
    """Return (programs, sessions, roster) provider files as text frames; roster None when not given."""
    programs, sessions = _read_file(Path(programs_path), PROGRAM_FILE_COLUMNS), \
        _read_file(Path(sessions_path), SESSION_FILE_COLUMNS)
    return programs, sessions, _read_file(Path(roster_path), ROSTER_FILE_COLUMNS) if roster_path else None


def read_demo(out_dir: Path | str) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame | None]:
    """Return the three files written by ``write_demo_programs``; roster None when roster.csv is absent."""
    base = Path(out_dir)
    roster = base / FILES["roster"][0]
    return read_demo_files(base / FILES["programs"][0], base / FILES["sessions"][0],
                           roster if roster.exists() else None)


# ---------------------------------------------------------------- standardizing (pure)

def _reject(raw: pd.DataFrame, bad: pd.Series, column: str, what: str, action: str, default: str) -> None:
    """Raise an InputError naming the file, line and column of the first bad cell, if any."""
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        # Chunks of a landed batch are labelled by their position in the whole file.
        row = raw.index[pos] if pd.api.types.is_integer_dtype(raw.index) else pos
        where = f"{raw.attrs.get('source_path', default)}:{row + 2}"  # line 1 is the header
        raise InputError(where, f"column '{column}' holds {raw[column].iloc[pos]!r}{what}", action)


def _flag(raw: pd.DataFrame, default: str) -> pd.Series:
    if "SYNTHETIC" not in raw:
        return pd.Series(False, index=raw.index, dtype="boolean")
    text = raw["SYNTHETIC"].fillna("").str.strip().str.upper()
    _reject(raw, ~text.isin(["Y", "N", ""]), "SYNTHETIC", "", "Use Y, N or leave it blank", default)
    return (text == "Y").astype("boolean")


def _dates(raw: pd.DataFrame, column: str, default: str) -> pd.Series:
    text = raw[column].fillna("").str.strip()
    parsed = pd.to_datetime(text.mask(text == ""), format="%Y-%m-%d", errors="coerce")
    _reject(raw, parsed.isna() & (text != ""), column, ", not a YYYY-MM-DD date", "Fix the date in the export",
            default)
    return parsed.astype("datetime64[us]")


def _counts(raw: pd.DataFrame, column: str, default: str) -> pd.Series:
    text = raw[column].fillna("").str.strip()
    # Up to 15 digits: a count, not an overflow of the 64-bit column.
    _reject(raw, ~text.str.fullmatch(r"-?\d{0,15}"), column, ", not a whole number of at most 15 digits",
            "Fix the count in the export or leave it blank", default)
    return pd.to_numeric(text.mask(text == "")).astype("Int64")


class DemoStandard(NamedTuple):
    programs: pd.DataFrame  # PROGRAMS columns
    sessions: pd.DataFrame  # SESSIONS columns, every input row (validation quarantines defects)
    roster: pd.DataFrame | None  # ROSTER columns (participant ids pseudonymized), or None
    site_addresses: pd.Series  # 'site_address', same index as programs; dropped after geocoding


def programs_to_standard(programs_raw: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """Return canonical programs (one per input row) and their site addresses (same index).

    Unknown program types pass through unchanged: expectations/programs.json quarantines them.
    """
    name = FILES["programs"][0]
    text = {c: programs_raw[c].str.strip() for c in ("PROGRAM_ID", "PROGRAM_NAME", "SPONSOR", "SITE_NAME")}
    programs = pd.DataFrame({
        "program_id": text["PROGRAM_ID"], "name": text["PROGRAM_NAME"],
        "program_type": programs_raw["PROGRAM_TYPE"].str.lower().str.replace(r"[^a-z0-9]+", "_", regex=True)
        .str.strip("_"),  # 'Support group' -> support_group
        "sponsor": text["SPONSOR"], "site_name": text["SITE_NAME"],
        "latitude": np.nan, "longitude": np.nan,  # the provider gives addresses only
        "neighborhood_id": None, "geocode_method": "none", "geocode_precision": "none",  # set by the geocoder
        "match_score": np.nan,
        "started_on": _dates(programs_raw, "START_DATE", name), "ended_on": _dates(programs_raw, "END_DATE", name),
        "is_synthetic": _flag(programs_raw, name), "source": SLUG,
    }, index=programs_raw.index)
    parts = [programs_raw[c].fillna("").str.strip() for c in ("SITE_ADDRESS", "CITY", "STATE")]
    addresses = (parts[0] + ", " + parts[1] + ", " + parts[2]).str.replace(r"(, )+$", "", regex=True)
    return PROGRAMS.coerce(programs), addresses.astype("str").rename("site_address")


def sessions_to_standard(sessions_raw: pd.DataFrame) -> pd.DataFrame:
    """Return canonical sessions, one per input row (same index).

    Negative or implausible counts and orphan sessions pass through unchanged:
    expectations/program_sessions.json quarantines them.
    """
    name = FILES["sessions"][0]
    sessions = pd.DataFrame({
        "session_id": sessions_raw["SESSION_ID"].str.strip(), "program_id": sessions_raw["PROGRAM_ID"].str.strip(),
        "session_date": _dates(sessions_raw, "SESSION_DATE", name), "period": "session",
        "attendees": _counts(sessions_raw, "ATTENDEES", name),
        "new_participants": _counts(sessions_raw, "NEW_PARTICIPANTS", name),
        "is_synthetic": _flag(sessions_raw, name), "source": SLUG,
    }, index=sessions_raw.index)
    return SESSIONS.coerce(sessions)


def roster_to_standard(roster_raw: pd.DataFrame, pseudonym_key: bytes | None) -> pd.DataFrame:
    """Return canonical roster rows, one per input line (same index), with keyed participant pseudonyms."""
    if pseudonym_key is None:
        raise ConfigError("PULSE_PSEUDONYM_KEY", "the roster needs a pseudonymization key and none is set",
                          "Set PULSE_PSEUDONYM_KEY to a random secret of at least 32 bytes")
    name = FILES["roster"][0]
    ids = roster_raw["PARTICIPANT_ID"].fillna("").str.strip()
    _reject(roster_raw, ids == "", "PARTICIPANT_ID", " (blank)", "Fill in the participant id or remove the line", name)
    return ROSTER.coerce(pd.DataFrame({
        "session_id": roster_raw["SESSION_ID"].str.strip(), "participant_key": pseudonymize(ids, pseudonym_key),
        "is_synthetic": _flag(roster_raw, name), "source": SLUG,
    }, index=roster_raw.index))


def to_standard(programs_raw: pd.DataFrame, sessions_raw: pd.DataFrame, roster_raw: pd.DataFrame | None = None,
                pseudonym_key: bytes | None = None) -> DemoStandard:
    """Return canonical programs, sessions (one per input row) and roster with keyed participant pseudonyms."""
    programs, addresses = programs_to_standard(programs_raw)
    roster = roster_to_standard(roster_raw, pseudonym_key) if roster_raw is not None else None
    return DemoStandard(programs, sessions_to_standard(sessions_raw), roster, addresses)

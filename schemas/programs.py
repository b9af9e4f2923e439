"""Canonical community programs: the program dimension, its sessions and (person-level) rosters.

Two feeds fill these: the Chicago Public Library monthly door counts (``programs_cpl``, real,
one "program" per branch, one row per branch and month) and a synthetic drug-response program
feed (``programs_demo``, one row per session). A site's street address is never a canonical
column: adapters return it beside the programs frame until it is geocoded, then it is dropped.
"""
from __future__ import annotations

import pandas as pd

from schemas.base import Column, EntitySchema
from schemas.incidents import GEOCODE_METHODS, GEOCODE_PRECISIONS

PROGRAM_TYPES = (
    "support_group",
    "prevention_workshop",
    "outreach",
    "diversion",
    "youth_program",
    "treatment_linkage",
    "community_meeting",
    "library",  # CPL branch door counts: the real attendance proxy
)
PERIODS = ("session", "month")  # 'month' rows are monthly totals (CPL), not one meeting

# Program sites may be geocoded from a street address or a ZIP as well as from coordinates:
# these are the values tasks.geocode.address_geocoder.AddressGeocoder writes.
ADDRESS_GEOCODE_METHODS = ("intersection", "address_grid", "grid_crossing", "zip_area_share", "unmatched")
ADDRESS_GEOCODE_PRECISIONS = ("intersection", "street", "block", "zip")  # and 'none'
PROGRAM_GEOCODE_METHODS = GEOCODE_METHODS + ADDRESS_GEOCODE_METHODS
PROGRAM_GEOCODE_PRECISIONS = GEOCODE_PRECISIONS + ADDRESS_GEOCODE_PRECISIONS

# Largest attendance per row that is still plausible, by program type. A row above it is
# quarantined (suite expectations/program_sessions.json via ``attendees_max_plausible``).
# NOTE: the busiest CPL branch (Harold Washington Library Center) logged 141,696 visitors in one
# month (2019 files), so 'library' allows 250,000 per monthly row.
MAX_PLAUSIBLE_ATTENDEES = {
    "support_group": 60,
    "prevention_workshop": 200,
    "outreach": 400,
    "diversion": 60,
    "youth_program": 150,
    "treatment_linkage": 100,
    "community_meeting": 400,
    "library": 250_000,
}

PROGRAMS = EntitySchema(
    name="programs",
    table="dim_programs",
    grain="one row per program (program_id); a CPL branch is one program",
    key=("program_id",),
    columns=(
        Column("program_id", "string", nullable=False, doc="Stable id, prefixed by feed (cpl-, demo-)."),
        Column("name", "string", nullable=False),
        Column("program_type", "string", nullable=False, allowed=PROGRAM_TYPES),
        Column("sponsor", "string", doc="Organisation that runs the program."),
        Column("site_name", "string", doc="Where it meets (branch or venue name)."),
        Column("latitude", "float"),
        Column("longitude", "float"),
        Column("neighborhood_id", "string", doc="Boundary file's own id (Chicago: community area number)."),
        Column("geocode_method", "string", nullable=False, allowed=PROGRAM_GEOCODE_METHODS),
        Column("geocode_precision", "string", nullable=False, allowed=PROGRAM_GEOCODE_PRECISIONS),
        Column("match_score", "float", doc="Address geocoder's confidence (0-1; the ZIP's area share for "
                                           "'zip_area_share'); null for sites given as points."),
        Column("started_on", "date", nullable=False, doc="First day of operation (CPL: first month seen)."),
        Column("ended_on", "date", doc="Last day of operation; null while running."),
        Column("is_synthetic", "bool", nullable=False),
        Column("source", "string", nullable=False, doc="Feed slug."),
    ),
)

SESSIONS = EntitySchema(
    name="program_sessions",
    table="fct_program_sessions",
    grain="one row per program session, or per program and month where period = 'month'",
    key=("session_id",),
    columns=(
        Column("session_id", "string", nullable=False, doc="Stable id (CPL: cpl-<branch>-<yyyy-mm>)."),
        Column("program_id", "string", nullable=False),
        Column("session_date", "date", nullable=False, doc="Meeting date; first of month for monthly rows."),
        Column("period", "string", nullable=False, allowed=PERIODS),
        Column("attendees", "int", nullable=False),
        Column("new_participants", "int", doc="First-time attendees; null where the feed has no roster."),
        Column("is_synthetic", "bool", nullable=False),
        Column("source", "string", nullable=False),
    ),
)

ROSTER = EntitySchema(
    name="session_roster",
    table="fct_session_roster",
    grain="one row per session and participant",
    key=("session_id", "participant_key"),
    person_level=True,
    columns=(
        Column("session_id", "string", nullable=False),
        Column("participant_key", "string", nullable=False, doc="HMAC-SHA256 of the provider's participant id."),
        Column("is_synthetic", "bool", nullable=False),
        Column("source", "string", nullable=False),
    ),
)

# Columns the sessions suite needs beside the canonical ones (see ``sessions_for_validation``).
SESSION_CHECK_COLUMNS = ("program_started_on", "program_ended_on", "attendees_max_plausible")


def sessions_for_validation(sessions: pd.DataFrame, programs: pd.DataFrame) -> pd.DataFrame:
    """Return sessions (same rows, same index) plus the program's life and type ceiling.

    Adds ``program_started_on``, ``program_ended_on`` and ``attendees_max_plausible``; they are
    null for sessions whose program is unknown, so only the known-program check flags orphans.
    """
    ref = programs.drop_duplicates("program_id", keep="last").set_index("program_id")
    pid = sessions["program_id"]
    out = sessions.copy()
    # reindex, not map: Series.map with an empty lookup casts datetimes to float and fails.
    keys = pid.to_numpy()
    out["program_started_on"] = ref["started_on"].astype("datetime64[us]").reindex(keys).to_numpy()
    out["program_ended_on"] = ref["ended_on"].astype("datetime64[us]").reindex(keys).to_numpy()
    ceiling = ref["program_type"].map(MAX_PLAUSIBLE_ATTENDEES).astype("Int64")
    out["attendees_max_plausible"] = pd.array(ceiling.reindex(keys).to_numpy(), dtype="Int64")
    return out


def session_suite_parameters(programs: pd.DataFrame) -> dict:
    """Return the ``$PARAMETER`` values of expectations/program_sessions.json."""
    return {"known_program_ids": sorted(programs["program_id"].dropna().unique().tolist())}


def program_suite_parameters(bbox: list[float] | tuple[float, ...]) -> dict:
    """Return the ``$PARAMETER`` values of expectations/programs.json from the city bbox."""
    lon_min, lat_min, lon_max, lat_max = bbox
    return {"lon_min": lon_min, "lat_min": lat_min, "lon_max": lon_max, "lat_max": lat_max}


# Column the roster suite needs beside the canonical ones (see ``roster_for_validation``).
ROSTER_CHECK_COLUMNS = ("is_repeat_sign_in",)


def roster_for_validation(roster: pd.DataFrame) -> pd.DataFrame:
    """Return roster rows (same rows, same index) plus ``is_repeat_sign_in``.

    True on the second and later lines of one participant in one session: expectations/
    session_roster.json quarantines those and keeps the first, so the roster key stays unique.
    """
    out = roster.copy()
    out["is_repeat_sign_in"] = roster.duplicated(["session_id", "participant_key"], keep="first").astype("boolean")
    return out


def roster_suite_parameters(session_ids) -> dict:
    """Return the ``$PARAMETER`` values of expectations/session_roster.json (sessions already loaded)."""
    return {"known_session_ids": sorted(set(session_ids))}

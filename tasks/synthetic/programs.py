"""Synthetic drug-response programs (SYNTHETIC): a seeded generator writing provider-style files.

No real per-program attendance file exists for Chicago (see data/programs/PROVENANCE.md), so this
feed is generated: ~12 programs (support groups, diversion, outreach, ...) in neighborhoods with
high drug-incident rates, sessions over 2016-2018 with type-specific attendance, optional
sign-in rosters, and a small known set of defective session rows (``defects``) that validation
must catch. Everything it writes carries ``SYNTHETIC = Y``. Site addresses are real block
addresses from the police incident file with the masked digits filled in. The files follow the
layout the adapter ``tasks.sources.programs_demo`` reads.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from schemas.programs import MAX_PLAUSIBLE_ATTENDEES
from tasks.sources.programs_demo import FILES, PROGRAM_FILE_COLUMNS, ROSTER_FILE_COLUMNS, SESSION_FILE_COLUMNS

DEFAULT_SEED = 20160101
# West Garfield Park, North Lawndale, East Garfield Park, Humboldt Park, Austin, West Englewood,
# Englewood: the seven highest 2017 NARCOTICS incident rates per resident among areas of >= 15,000
# residents (chicago_crimes_2017 / 2010 Census).
DEFAULT_AREAS = ("26", "29", "27", "23", "25", "67", "68")
# Smaller areas give unstable rates: O'Hare (76, mostly airport) and Fuller Park (37, 2,876
# residents) top the 2017 per-resident ranking.
MIN_POPULATION = 15_000
FIRST_START, LAST_START = pd.Timestamp("2016-01-04"), pd.Timestamp("2017-12-18")
HORIZON = pd.Timestamp("2018-11-12")  # last day covered by the police incident files
ORPHAN_PROGRAM_ID = "demo-999"
DEFECT_KINDS = ("negative_attendees", "implausible_attendees", "before_program_start",
                "after_program_end", "unknown_program", "duplicate_session_id")
# The expectation of expectations/program_sessions.json that each defect kind must trip.
DEFECT_EXPECTATION = {
    "negative_attendees": ("expect_column_values_to_be_between", "attendees"),
    "implausible_attendees": ("expect_column_pair_values_a_to_be_greater_than_b", "attendees_max_plausible"),
    "before_program_start": ("expect_column_pair_values_a_to_be_greater_than_b", "session_date"),
    "after_program_end": ("expect_column_pair_values_a_to_be_greater_than_b", "program_ended_on"),
    "unknown_program": ("expect_column_values_to_be_in_set", "program_id"),
    "duplicate_session_id": ("expect_column_values_to_be_unique", "session_id"),
}



@dataclass(frozen=True)
class TypeProfile:
    label: str  # as the provider writes it
    name: str  # program name suffix
    every_days: int | None  # 7 = weekly; None = monthly
    mean: float  # expected attendees per session once established
    size: float  # negative binomial size (smaller = more overdispersed)
    new_share: float | None  # share of attendees who are first-timers; None = not recorded
    has_roster: bool  # sign-in sheet with participant ids


PROFILES = {
    "support_group": TypeProfile("Support group", "Recovery Circle", 7, 12, 8, 0.15, True),
    "prevention_workshop": TypeProfile("Prevention workshop", "Prevention Workshop", None, 25, 5, None, False),
    "outreach": TypeProfile("Outreach", "Street Outreach", 7, 40, 3, 0.5, False),
    "diversion": TypeProfile("Diversion", "Deflection and Diversion", 7, 9, 6, 0.2, True),
    "youth_program": TypeProfile("Youth program", "Youth Program", 7, 18, 6, 0.1, True),
    "treatment_linkage": TypeProfile("Treatment linkage", "Treatment Linkage Clinic", 7, 7, 5, 0.4, True),
    "community_meeting": TypeProfile("Community meeting", "Community Safety Meeting", None, 35, 4, None, False),
}
# Twelve programs; position i runs in the (i mod 7)-th chosen area.
PROGRAM_MIX = ("support_group", "outreach", "diversion", "youth_program", "treatment_linkage",
               "community_meeting", "prevention_workshop", "support_group", "outreach",
               "treatment_linkage", "youth_program", "prevention_workshop")
SPONSORS = ("Demo Recovery Alliance (synthetic)", "Demo Neighborhood Health Network (synthetic)",
            "Demo Youth Futures (synthetic)", "Demo Justice Diversion Partners (synthetic)")
VENUES = ("Church Hall", "Community Center", "Park Fieldhouse", "Storefront Office", "Clinic")


class DemoFeed(NamedTuple):
    """Generated provider-style frames (text, as written to CSV) and the generator's ground truth."""

    programs: pd.DataFrame  # PROGRAM_FILE_COLUMNS, one row per program
    sessions: pd.DataFrame  # SESSION_FILE_COLUMNS, one row per session (defects included)
    roster: pd.DataFrame  # ROSTER_FILE_COLUMNS, one row per session and raw participant id
    defects: pd.DataFrame  # session_id, kind, expectation, column, n_rows
    sites: pd.DataFrame  # program_id, neighborhood_id, block, site_address, latitude, longitude


# ---------------------------------------------------------------- generator (pure)

def choose_areas(neighborhoods: pd.DataFrame, population: pd.DataFrame,
                 incidents_by_area: dict | None = None, k: int = 7) -> list[str]:
    """Return k neighborhood ids: highest drug-incident rate per resident, else DEFAULT_AREAS."""
    known = set(neighborhoods["neighborhood_id"])
    if not incidents_by_area:
        return [a for a in DEFAULT_AREAS if a in known][:k]
    pop = population.set_index("neighborhood_id")["population"]
    rate = pd.Series({str(a): n for a, n in incidents_by_area.items()}, dtype="float64") / pop
    rate = rate[rate.index.isin(known) & (pop.reindex(rate.index) >= MIN_POPULATION)].dropna()
    ranked = sorted(rate.items(), key=lambda kv: (-kv[1], kv[0]))
    return [a for a, _ in ranked[:k]]


def block_to_address(block: str, rng: np.random.Generator) -> str:
    """Return a street address on a masked block: '032XX W FILLMORE ST' -> e.g. '3247 W FILLMORE ST'."""
    m = re.fullmatch(r"\s*(\d*)(X+)\s+(.+?)\s*", block)
    if not m:
        raise ValueError(f"not a masked block address: {block!r}")
    scale = 10 ** len(m.group(2))
    base = int(m.group(1) or 0) * scale
    number = base + int(rng.integers(1 if base == 0 else 0, scale))
    return f"{number} {m.group(3)}"


def _session_dates(start: pd.Timestamp, end: pd.Timestamp, every_days: int | None) -> pd.DatetimeIndex:
    return pd.date_range(start, end, freq=f"{every_days}D" if every_days else pd.DateOffset(months=1))


def generate_programs(neighborhoods: pd.DataFrame, population: pd.DataFrame, incidents_by_area: dict | None = None,
                      seed: int = DEFAULT_SEED, *, blocks: pd.DataFrame, defect_rate: float = 0.02) -> DemoFeed:
    """Return a seeded synthetic feed: programs, sessions, rosters (raw ids) and the defect manifest.

    ``neighborhoods``: neighborhood_id, name. ``population``: neighborhood_id, population.
    ``blocks``: neighborhood_id, block (masked, '032XX W FILLMORE ST'), latitude, longitude.
    """
    rng = np.random.default_rng(seed)
    areas = choose_areas(neighborhoods, population, incidents_by_area)
    names = neighborhoods.set_index("neighborhood_id")["name"]
    blocks = blocks.dropna(subset=["block"]).sort_values(["neighborhood_id", "block"], kind="stable")
    # Street blocks only: expressway ramps ('W EISENHOWER EXPY IB') are no place for a program.
    blocks = blocks[blocks["block"].str.fullmatch(r"\s*\d*X+\s+.+\s(ST|AVE|BLVD|RD|DR|PL|PKWY|CT|TER)")]
    programs, sites, sessions, roster = [], [], [], []
    person_counter = 0
    mondays = pd.date_range(FIRST_START, LAST_START, freq="7D")
    starts = np.sort(rng.choice(mondays, size=len(PROGRAM_MIX), replace=False))
    ends = set(rng.choice(len(PROGRAM_MIX), size=len(PROGRAM_MIX) // 3, replace=False).tolist())
    for i, ptype in enumerate(PROGRAM_MIX):
        profile, area = PROFILES[ptype], areas[i % len(areas)]
        pid = f"demo-{i + 1:03d}"
        area_blocks = blocks[blocks["neighborhood_id"] == area]
        site = area_blocks.iloc[int(rng.integers(len(area_blocks)))]
        address = block_to_address(site["block"], rng)
        start = pd.Timestamp(starts[i])
        end = min(start + pd.Timedelta(days=int(rng.integers(270, 541))), HORIZON) if i in ends else None
        programs.append({
            "PROGRAM_ID": pid, "PROGRAM_NAME": f"{_capwords(str(names[area]))} {profile.name}",
            "PROGRAM_TYPE": profile.label, "SPONSOR": SPONSORS[i % len(SPONSORS)],
            "SITE_NAME": f"{VENUES[i % len(VENUES)]}, {_capwords(address.split(' ', 1)[1])}", "SITE_ADDRESS": address,
            "CITY": "Chicago", "STATE": "IL", "START_DATE": f"{start:%Y-%m-%d}",
            "END_DATE": f"{end:%Y-%m-%d}" if end is not None else None, "SYNTHETIC": "Y",
        })
        sites.append({"program_id": pid, "neighborhood_id": area, "block": site["block"], "site_address": address,
                      "latitude": site["latitude"], "longitude": site["longitude"]})
        pool: list[str] = []
        for n_held, day in enumerate(_session_dates(start, end if end is not None else HORIZON, profile.every_days)):
            if n_held and rng.random() < 0.05:  # cancelled (holiday, weather)
                continue
            mean = profile.mean * min(1.0, 0.5 + 0.5 * n_held / 12)  # attendance builds over the first months
            attendees = int(rng.negative_binomial(profile.size, profile.size / (profile.size + mean)))
            sid = f"{pid}-{day:%Y%m%d}"
            new = None
            if profile.has_roster:
                returning = min(len(pool), int(rng.binomial(attendees, 1 - profile.new_share)))
                new = attendees - returning
                fresh = [f"C{100000 + person_counter + j}" for j in range(new)]
                person_counter += new
                chosen = list(rng.choice(pool, size=returning, replace=False)) if returning else []
                roster += [(sid, p) for p in chosen + fresh]
                pool += fresh
            elif profile.new_share is not None:
                new = int(rng.binomial(attendees, profile.new_share))
            sessions.append({"SESSION_ID": sid, "PROGRAM_ID": pid, "SESSION_DATE": f"{day:%Y-%m-%d}",
                             "ATTENDEES": str(attendees), "NEW_PARTICIPANTS": None if new is None else str(new),
                             "SYNTHETIC": "Y"})
    sessions_frame, defects = _add_defects(pd.DataFrame(sessions), programs, rng, defect_rate)
    return DemoFeed(
        programs=_text_frame(programs, PROGRAM_FILE_COLUMNS),
        sessions=sessions_frame,
        roster=_text_frame([{"SESSION_ID": s, "PARTICIPANT_ID": p, "SYNTHETIC": "Y"} for s, p in roster],
                           ROSTER_FILE_COLUMNS),
        defects=defects,
        sites=pd.DataFrame(sites).astype({"latitude": "float64", "longitude": "float64"}),
    )


def _capwords(text: str) -> str:
    return " ".join(w.capitalize() for w in text.split())  # '72ND' -> '72nd', where title() gives '72Nd'


def _text_frame(rows: list[dict], columns) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(columns)).astype("str")


def _add_defects(sessions: pd.DataFrame, programs: list[dict], rng: np.random.Generator,
                 rate: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return sessions with ~rate defective rows (each kind at least once) and the manifest.

    A garbled count keeps its sign-in sheet: the roster still shows who came.
    """
    n_each = max(1, round(rate * len(sessions) / len(DEFECT_KINDS)))
    out = sessions.copy()
    targets = iter(rng.choice(len(out), size=3 * n_each, replace=False).tolist())
    type_of = {p["PROGRAM_ID"]: next(t for t, f in PROFILES.items() if f.label == p["PROGRAM_TYPE"]) for p in programs}
    ended = [p for p in programs if p["END_DATE"]]
    manifest, extra = [], []
    for kind in DEFECT_KINDS:
        pool = ended if kind == "after_program_end" else programs
        for k in range(n_each if pool else 0):
            if kind in ("negative_attendees", "implausible_attendees", "duplicate_session_id"):
                pos = next(targets)
                row = out.iloc[pos].to_dict()
                sid = row["SESSION_ID"]
                if kind == "duplicate_session_id":  # the provider re-sent a corrected row
                    extra.append({**row, "ATTENDEES": str(int(row["ATTENDEES"]) + 1)})
                else:
                    bad = -int(rng.integers(1, 10)) if kind == "negative_attendees" else \
                        max(5000, 10 * MAX_PLAUSIBLE_ATTENDEES[type_of[row["PROGRAM_ID"]]])
                    out.loc[pos, ["ATTENDEES", "NEW_PARTICIPANTS"]] = [str(bad), None]
            else:
                prog = pool[int(rng.integers(len(pool)))]
                shift = pd.Timedelta(days=int(rng.integers(14, 200)))
                day = {"before_program_start": pd.Timestamp(prog["START_DATE"]) - shift,
                       "after_program_end": pd.Timestamp(prog["END_DATE"] or HORIZON) + shift,
                       "unknown_program": pd.Timestamp(prog["START_DATE"]) + shift}[kind]
                pid = ORPHAN_PROGRAM_ID if kind == "unknown_program" else prog["PROGRAM_ID"]
                sid = f"{pid}-{day:%Y%m%d}-x{k}"
                extra.append({"SESSION_ID": sid, "PROGRAM_ID": pid, "SESSION_DATE": f"{day:%Y-%m-%d}",
                              "ATTENDEES": str(int(rng.integers(3, 20))), "NEW_PARTICIPANTS": None, "SYNTHETIC": "Y"})
            expectation, column = DEFECT_EXPECTATION[kind]
            manifest.append({"session_id": sid, "kind": kind, "expectation": expectation, "column": column,
                             "n_rows": 2 if kind == "duplicate_session_id" else 1})
    out = pd.concat([out, pd.DataFrame(extra, columns=out.columns)], ignore_index=True)
    # Provider exports run in date order; ties keep generation order so a re-sent row follows its original.
    out = out.sort_values(["SESSION_DATE", "PROGRAM_ID"], kind="stable")
    return _text_frame(out.to_dict("records"), SESSION_FILE_COLUMNS), pd.DataFrame(manifest)


# ---------------------------------------------------------------- inputs and files (IO)

def read_inputs(data_dir: Path | str, *, neighborhoods_file: str = "chicago_boundaries/community_areas.geojson",
                id_field: str = "area_numbe", name_field: str = "community",
                population_file: str = "chicago_population/community_area_population_2010.csv",
                population_id_field: str = "NID", population_field: str = "POP2010",
                crimes_file: str = "chicago_crimes/chicago_crimes_2017.csv.gz") -> dict:
    """Return the generator's inputs: neighborhoods, population, blocks and drug incidents by area.

    Defaults are Chicago's (config/chicago.toml); ``blocks`` has one row per masked block and area
    with the mean incident coordinates on it.
    """
    import geopandas as gpd

    base = Path(data_dir)
    hoods = gpd.read_file(base / neighborhoods_file, ignore_geometry=True).astype("str")
    neighborhoods = pd.DataFrame({"neighborhood_id": hoods[id_field].str.strip(),
                                  "name": hoods[name_field].str.strip()})
    pop = pd.read_csv(base / population_file, dtype="str")
    population = pd.DataFrame({"neighborhood_id": pop[population_id_field].str.strip(),
                               "population": pd.to_numeric(pop[population_field])})
    crimes = pd.read_csv(base / crimes_file, dtype="str",
                         usecols=["Block", "Community Area", "Primary Type", "Latitude", "Longitude"])
    crimes = crimes.rename(columns={"Block": "block", "Community Area": "neighborhood_id"})
    crimes[["latitude", "longitude"]] = crimes[["Latitude", "Longitude"]].apply(pd.to_numeric)
    blocks = crimes.groupby(["neighborhood_id", "block"], as_index=False)[["latitude", "longitude"]].mean()
    drug = crimes.loc[crimes["Primary Type"] == "NARCOTICS", "neighborhood_id"].value_counts()
    return {"neighborhoods": neighborhoods, "population": population, "blocks": blocks,
            "incidents_by_area": {str(k): int(v) for k, v in drug.items()}}


def write_demo_programs(out_dir: Path | str, data_dir: Path | str, seed: int = DEFAULT_SEED,
                        **input_files) -> DemoFeed:
    """Generate the feed from the real inputs and write programs.csv, sessions.csv, roster.csv; return it.

    ``input_files``: keyword arguments of ``read_inputs`` (the city's file names and fields).
    """
    inputs = read_inputs(data_dir, **input_files)
    feed = generate_programs(inputs["neighborhoods"], inputs["population"], inputs["incidents_by_area"],
                             seed, blocks=inputs["blocks"])
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, (file_name, _) in FILES.items():
        getattr(feed, name).to_csv(out / file_name, index=False)
    return feed

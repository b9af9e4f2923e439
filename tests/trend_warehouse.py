"""A small hand-made warehouse for the trends flow and the report (real community areas, seeded counts).

Drug incidents 2016-01-01..2018-06-14 (June is partial): a contiguous West Side cluster (Humboldt
Park 23, Austin 25, West/East Garfield Park 26/27, North Lawndale 29) with a falling rate, the
other areas sparse and flat, a spike of SPIKE_COUNT incidents in SPIKE_AREA on SPIKE_DAY, some
drug incidents without a neighborhood, some other offenses, three programs (one estimable
synthetic program, one library branch, one program without a site area) and a few synthetic
treatment admissions a month in the cluster, rising.
"""
from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

from flows.city_inputs import city_neighborhoods, city_population
from tasks.geocode.neighborhoods import neighborhood_dimension
from warehouse.resource import Warehouse, is_duckdb
from warehouse.load import init_warehouse, replace_table
from warehouse.tables import dim_neighborhoods, fct_incidents, metadata

FIRST_DAY, LAST_DAY = pd.Timestamp("2016-01-01"), pd.Timestamp("2018-06-14")
CLUSTER = ("23", "25", "26", "27", "29")
SPIKE_AREA, SPIKE_DAY, SPIKE_COUNT = "8", pd.Timestamp("2018-06-12"), 12
PROGRAM_AREA, PROGRAM_START = "25", pd.Timestamp("2017-03-06")
SMALL_ADMISSIONS_AREA = "1"
LINEAGE = {"source": "hand", "batch_id": "hand-1", "loaded_at": datetime(2026, 1, 1)}


def incidents_frame(ids: list[str], seed: int = 7) -> pd.DataFrame:
    """Return fct_incidents rows (all columns) for the scenario above."""
    rng = np.random.default_rng(seed)
    days = pd.date_range(FIRST_DAY, LAST_DAY, freq="D")
    frac = np.arange(len(days)) / (len(days) - 1)
    rows = []
    for area in ids:
        rate = 0.9 - 0.5 * frac if area in CLUSTER else np.full(len(days), 0.02)
        counts = rng.poisson(rate)
        if area == SPIKE_AREA:
            counts[days.get_loc(SPIKE_DAY)] += SPIKE_COUNT
        rows += [(area, day, True) for day, n in zip(days, counts) for _ in range(n)]
    rows += [(None, day, True) for day in rng.choice(days, 30)]  # drug incidents that were not geocoded
    rows += [(ids[k % len(ids)], day, False) for k, day in enumerate(rng.choice(days, 200))]
    rows.append((ids[0], LAST_DAY + pd.Timedelta(hours=23), False))  # the data's last day
    frame = pd.DataFrame(rows, columns=["neighborhood_id", "occurred_at", "is_drug_offense"])
    frame["occurred_at"] = frame["occurred_at"] + pd.to_timedelta(rng.integers(0, 23 * 60, len(frame)), unit="min")
    frame.loc[frame.index[-1], "occurred_at"] = LAST_DAY + pd.Timedelta(hours=23, minutes=30)
    n = len(frame)
    placed = frame["neighborhood_id"].notna()
    out = pd.DataFrame({c.name: pd.Series([None] * n, dtype=object) for c in fct_incidents.columns})
    out["incident_id"] = [f"H{i:06d}" for i in range(n)]
    out["occurred_at"] = frame["occurred_at"].dt.to_pydatetime()
    out["offense_category"] = np.where(frame["is_drug_offense"], "possession", "non_drug")
    out["is_drug_offense"] = frame["is_drug_offense"].astype(bool)
    out["is_arrest"] = frame["is_drug_offense"].astype(bool)
    out["neighborhood_id"] = frame["neighborhood_id"]
    out["geocode_method"] = np.where(placed, "latlon", "none")
    out["geocode_precision"] = np.where(placed, "point", "none")
    for key, value in LINEAGE.items():
        out[key] = [value] * n
    return out


def admissions_frame(seed: int = 11) -> pd.DataFrame:
    """Return synthetic fct_treatment_admissions rows: a few a month in the cluster, rising over time."""
    rng = np.random.default_rng(seed)
    days = pd.date_range(FIRST_DAY, LAST_DAY, freq="D")
    rate = np.linspace(0.05, 0.25, len(days))
    rows = [(area, day) for area in CLUSTER for day, n in zip(days, rng.poisson(rate)) for _ in range(n)]
    rows += [(SMALL_ADMISSIONS_AREA, day) for day in days[[40, 400, 800]]]  # 3 in all: a small cell
    return pd.DataFrame({
        "admission_id": [f"A{i:05d}" for i in range(len(rows))], "admitted_on": [d.date() for _, d in rows],
        "neighborhood_id": [a for a, _ in rows], "is_synthetic": True, "geocode_method": "address",
        "geocode_precision": "address", **LINEAGE})


def programs_frame() -> pd.DataFrame:
    base = {"sponsor": "Demo (synthetic)", "site_name": "Hall", "latitude": None, "longitude": None,
            "geocode_method": "none", "geocode_precision": "none", "ended_on": None, "is_synthetic": True, **LINEAGE}
    return pd.DataFrame([
        {**base, "program_id": "demo-001", "name": "Austin Recovery Circle", "program_type": "support_group",
         "neighborhood_id": PROGRAM_AREA, "started_on": PROGRAM_START.date()},
        {**base, "program_id": "cpl-douglass", "name": "Douglass Branch", "program_type": "library",
         "neighborhood_id": "29", "started_on": pd.Timestamp("2019-01-01").date(), "is_synthetic": False},
        {**base, "program_id": "demo-002", "name": "Unplaced Outreach", "program_type": "outreach",
         "neighborhood_id": None, "started_on": pd.Timestamp("2016-09-05").date()},
    ])


def build_trend_warehouse(url: str, settings) -> dict:
    """Create the warehouse at ``url`` with the scenario; returns counts for the assertions."""
    engine = Warehouse(url)
    try:
        init_warehouse(engine)
        hoods = neighborhood_dimension(city_neighborhoods(settings), city_population(settings), "EPSG:3435")
        replace_table(engine, dim_neighborhoods, hoods)
        incidents = incidents_frame(hoods["neighborhood_id"].tolist())
        _bulk_insert(engine, fct_incidents.name, incidents)
        replace_table(engine, metadata.tables["dim_programs"], programs_frame())
        admissions = admissions_frame()
        _bulk_insert(engine, "fct_treatment_admissions", admissions)
        return {"n_incidents": len(incidents), "n_drug": int(incidents["is_drug_offense"].sum()),
                "n_admissions": len(admissions)}
    finally:
        engine.close()


def _bulk_insert(engine, table: str, frame: pd.DataFrame) -> None:
    with engine.begin() as conn:
        if is_duckdb(engine):
            raw = conn.connection.driver_connection
            raw.register("hand_rows", frame)
            cols = ", ".join(f'"{c}"' for c in frame.columns)
            raw.execute(f'INSERT INTO "{table}" ({cols}) SELECT {cols} FROM hand_rows')
            raw.unregister("hand_rows")
        else:
            conn.execute(metadata.tables[table].insert(), frame.astype(object).where(frame.notna(), None)
                         .to_dict("records"))

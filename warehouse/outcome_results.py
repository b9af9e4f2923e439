"""The outcomes step's IO: read the loaded person-level rows it needs, replace its result tables.

Every result table (``schemas.outcomes``, ``schemas.outcome_results``; restricted, see
warehouse/tables.py) is derived: each run replaces all of them in ONE transaction, so a rerun
leaves exactly the same rows. Methods: docs/outcomes.md.
"""
from __future__ import annotations

from datetime import datetime

import pandas as pd
from sqlalchemy import select

from schemas.arrests import ARRESTS
from schemas.discharges import TEDS_STATE_DISCHARGES, TREATMENT_DISCHARGES
from schemas.outcome_results import OUTCOME_RESULT_TABLES, OutcomeInputs, OutcomeResults
from schemas.outcomes import OUTCOME_TABLES
from warehouse.resource import Warehouse
from warehouse.tables import metadata

ADMISSION_COLUMNS = ("admission_id", "client_key", "admitted_on", "neighborhood_id", "referral_source")


def _rows(wh: Warehouse, query, columns: list[str]) -> pd.DataFrame:
    with wh.connect() as conn:
        return pd.DataFrame(conn.execute(query).all(), columns=columns)


def _entity(wh: Warehouse, schema) -> tuple[pd.DataFrame, bool]:
    t = metadata.tables[schema.table]
    cols = list(schema.column_names)
    frame = schema.coerce(_rows(wh, select(*[t.c[c] for c in cols]), cols))
    synthetic = "is_synthetic" in frame and bool(frame["is_synthetic"].fillna(False).astype(bool).any())
    return frame, synthetic


def read_outcome_inputs(wh: Warehouse, programs_source: str) -> OutcomeInputs:
    """Return the loaded rows the outcomes step reads; sessions of ``programs_source``'s programs only."""
    arrests, syn_a = _entity(wh, ARRESTS)
    discharges, syn_d = _entity(wh, TREATMENT_DISCHARGES)
    teds, _ = _entity(wh, TEDS_STATE_DISCHARGES)
    p, s, r = (metadata.tables[n] for n in ("dim_programs", "fct_program_sessions", "fct_session_roster"))
    sessions = _rows(wh, select(s.c.session_id, s.c.program_id, s.c.session_date)
                     .join(p, p.c.program_id == s.c.program_id).where(p.c.source == programs_source),
                     ["session_id", "program_id", "session_date"])
    sessions["session_date"] = pd.to_datetime(sessions["session_date"]).astype("datetime64[us]")
    roster = _rows(wh, select(r.c.session_id, r.c.participant_key), ["session_id", "participant_key"])
    a = metadata.tables["fct_treatment_admissions"]
    admissions = _rows(wh, select(*[a.c[c] for c in ADMISSION_COLUMNS]), list(ADMISSION_COLUMNS))
    admissions["admitted_on"] = pd.to_datetime(admissions["admitted_on"]).astype("datetime64[us]")
    admissions["referral_source"] = pd.to_numeric(admissions["referral_source"]).astype("Int64")
    admissions["neighborhood_id"] = admissions["neighborhood_id"].astype(object).where(
        admissions["neighborhood_id"].notna(), None)
    syn_s = bool(_rows(wh, select(p.c.is_synthetic).where(p.c.source == programs_source),
                       ["is_synthetic"])["is_synthetic"].fillna(False).astype(bool).any())
    for frame in (arrests, discharges):
        for c in frame.columns:
            if str(frame[c].dtype).startswith("datetime64"):
                frame[c] = frame[c].astype("datetime64[us]")
    return OutcomeInputs(arrests, roster, sessions, admissions, discharges, teds, syn_a or syn_d or syn_s)


def replace_outcome_tables(wh: Warehouse, results: OutcomeResults, computed_at: datetime) -> dict[str, int]:
    """Replace every outcome result table in ONE transaction; return rows written per table."""
    frames = list(zip((*OUTCOME_TABLES, *OUTCOME_RESULT_TABLES),
                      (results.linked, results.sets, results.estimates, results.curves,
                       results.program, results.area, results.survival, results.benchmark)))
    with wh.begin() as conn:
        for schema, frame in frames:
            table = metadata.tables[schema.table]
            conn.execute(table.delete())
            if len(frame):
                typed = frame.copy()
                for c in typed.columns:
                    if str(typed[c].dtype).startswith("datetime64"):
                        typed[c] = pd.to_datetime(typed[c]).dt.normalize()
                    elif str(typed[c].dtype) in ("Int64", "boolean", "Float64"):
                        typed[c] = typed[c].astype(object).where(typed[c].notna(), None)
                wh.insert_frame(conn, table.name, typed.assign(computed_at=computed_at).reset_index(drop=True))
    return {s.table: len(f) for s, f in frames}


def read_admission_ids(wh: Warehouse) -> list[str]:
    """Return every loaded admission id (a discharge of another episode is quarantined)."""
    a = metadata.tables["fct_treatment_admissions"]
    with wh.connect() as conn:
        return [str(r[0]) for r in conn.execute(select(a.c.admission_id)).all()]

"""The outcomes demo end to end in memory: generated files -> adapters -> GX suites -> loaded frames.

Stands in for the flows (land, validate, load, read back) so the bench and the recovery test judge
the estimators on exactly the rows the warehouse would hold. One stand-in: admissions get their
``neighborhood_id`` from the person register (the generator's truth) instead of the geocoder.
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import NamedTuple

import pandas as pd
import pyarrow as pa

from schemas.arrests import known_charge_codes
from schemas.iucr_codes import known_iucr_codes
from schemas.programs import roster_for_validation, roster_suite_parameters, session_suite_parameters, \
    sessions_for_validation
from schemas.treatment import admission_suite_parameters
from tasks.ingest.pseudonymize import pseudonymize
from tasks.ingest.validate import validate_frame
from tasks.outcomes.linkage import participations
from tasks.sources import arrests_export, programs_demo, treatment_provider
from tasks.sources import treatment_discharges_provider as provider_d
from tasks.sources import treatment_discharges_teds as teds_d
from tasks.sources.adapter import QUARANTINE_REASON
from tasks.synthetic.arrests import DemoOutcomes, OutcomeInputs

EXPECTATIONS = Path(__file__).resolve().parents[2] / "expectations"
TEDS_D_SAMPLE = "teds/tedsd_2023_sample_decoded.csv"


class Loaded(NamedTuple):
    arrests: pd.DataFrame  # ARRESTS rows that passed (loaded)
    participation: pd.DataFrame  # tasks.outcomes.linkage.participations of the loaded roster
    admissions: pd.DataFrame  # ADMISSIONS rows that passed, neighborhood_id from the register
    discharges: pd.DataFrame  # TREATMENT_DISCHARGES rows that passed
    teds: pd.DataFrame  # TEDS_STATE_DISCHARGES rows that passed
    quarantine: pd.DataFrame  # feed, record_id, expectation, column_name, reason (one row per failure)


def _valid(feed: str, frame: pd.DataFrame, suite: str, params: dict, key: str, quarantined: list) -> pd.DataFrame:
    if QUARANTINE_REASON not in frame:
        frame = frame.assign(**{QUARANTINE_REASON: pd.Series(None, index=frame.index, dtype="str")})
    bad = frame[QUARANTINE_REASON].notna()
    kept = frame[~bad]
    out = validate_frame(kept, EXPECTATIONS / f"{suite}.json", params, id_column=key, where=feed)
    if out.critical_failures:
        raise RuntimeError(out.critical_failures[0])
    q = out.quarantine.assign(feed=feed)
    adapter = pd.DataFrame({"record_id": frame.loc[bad, key].astype("str"), "expectation": "adapter", "column_name": "row",
                            "reason": frame.loc[bad, QUARANTINE_REASON], "feed": feed})
    quarantined.append(pd.concat([q, adapter], ignore_index=True)[["feed", "record_id", "expectation", "column_name",
                                                                   "reason"]])
    return kept.loc[out.valid_index]


def load_demo(demo: DemoOutcomes, inputs: OutcomeInputs, data_dir: Path, key: bytes, now: datetime) -> Loaded:
    """Return the frames the warehouse would hold after loading the demo feeds with ``key``."""
    q: list[pd.DataFrame] = []
    lookup = pd.read_csv(Path(data_dir) / "chicago_crimes/iucr_codes.csv", dtype="str")
    areas = sorted(set(inputs.skeleton["neighborhood_id"]))
    adapter = arrests_export.arrests_export_adapter(key, now, known_charge_codes(known_iucr_codes(lookup)), areas)
    arrests = _valid("arrests", adapter.to_standard(demo.arrests), adapter.suite, adapter.suite_parameters,
                     "arrest_id", q)
    programs, _ = programs_demo.programs_to_standard(inputs.programs)
    sessions = programs_demo.sessions_to_standard(inputs.sessions)
    sessions = _valid("sessions", sessions_for_validation(sessions, programs), "program_sessions",
                      session_suite_parameters(programs), "session_id", q)
    roster = roster_for_validation(programs_demo.roster_to_standard(inputs.roster, key))
    roster = _valid("roster", roster, "session_roster", roster_suite_parameters(sessions["session_id"]), "session_id", q)
    admissions = _admissions(demo, inputs, key, now, q)
    discharges = provider_d.provider_discharges_adapter(key, now, admissions["admission_id"])
    dis = _valid("discharges", discharges.to_standard(demo.discharges), discharges.suite,
                 discharges.suite_parameters, "admission_id", q)
    teds_raw = pa.Table.from_batches(list(teds_d.read_raw(Path(data_dir) / TEDS_D_SAMPLE))).to_pandas()
    teds = _valid("teds_discharges", teds_d.to_standard(teds_raw), teds_d.SUITE, teds_d.ADAPTER.suite_parameters,
                  "caseid", q)
    return Loaded(arrests, participations(roster, sessions), admissions, dis, teds, pd.concat(q, ignore_index=True))


def _admissions(demo: DemoOutcomes, inputs: OutcomeInputs, key: bytes, now: datetime, q: list) -> pd.DataFrame:
    raw = pd.concat([inputs.admissions, demo.admissions], ignore_index=True)
    std, _ = treatment_provider.to_standard(raw, key)
    home = demo.register.assign(client_key=pseudonymize(demo.register["person_id"].astype("str"), key))
    std["neighborhood_id"] = std["client_key"].map(home.set_index("client_key")["neighborhood_id"]).astype("str")
    return _valid("admissions", std, "treatment_admissions", admission_suite_parameters(now), "admission_id", q)


def defect_recall(demo: DemoOutcomes, loaded: Loaded) -> pd.DataFrame:
    """Return per generated defect kind: planted lines and how many of them were quarantined."""
    feed = {"arrests.csv": "arrests", "treatment_discharges.csv": "discharges"}
    caught = set(zip(loaded.quarantine["feed"], loaded.quarantine["record_id"].astype("str")))
    d = demo.defects.assign(caught=[(feed[f], str(r)) in caught for f, r in zip(demo.defects["file"],
                                                                                   demo.defects["record_id"])])
    return d.groupby(["file", "defect"]).agg(n=("caught", "size"), n_quarantined=("caught", "sum")).reset_index()

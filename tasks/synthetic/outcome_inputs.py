"""The outcomes demo generator's inputs (IO edge): real arrests and program sites from the
warehouse, the demo programs' and admissions' files, and real TEDS-D discharge reasons.

Run after the police incidents and the demo programs are loaded (the arrests follow
``fct_incidents``; program areas come from the geocoded ``dim_programs``) and after
``pulse demo-data programs`` and ``pulse demo-data treatment`` wrote their files: the person
register reuses the raw roster and client ids written there.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
from sqlalchemy import Engine, text

from schemas.errors import InputError
from schemas.teds_codes import load_teds_codes
from tasks.sources import programs_demo
from tasks.sources import treatment_discharges_teds as teds_d
from tasks.synthetic.arrests import OutcomeInputs

TEDS_D_SAMPLE = "teds/tedsd_2023_sample_decoded.csv"
ARRESTS_SQL = ("SELECT CAST(occurred_at AS DATE) AS arrested_on, neighborhood_id, iucr AS charge_code "
               "FROM fct_incidents WHERE is_arrest AND neighborhood_id IS NOT NULL AND occurred_at IS NOT NULL")
PROGRAM_AREAS_SQL = ("SELECT program_id, neighborhood_id FROM dim_programs "
                     "WHERE source = :source AND neighborhood_id IS NOT NULL")


def real_arrests(engine: Engine) -> pd.DataFrame:
    """Return every arrest of fct_incidents: arrested_on (datetime64[us]), neighborhood_id, charge_code."""
    with engine.connect() as conn:
        frame = pd.DataFrame(conn.execute(text(ARRESTS_SQL)).fetchall(),
                             columns=["arrested_on", "neighborhood_id", "charge_code"])
    if frame.empty:
        raise InputError("fct_incidents", "no arrests are loaded", "Load the police incidents first (pulse ingest police)")
    return frame.astype({"arrested_on": "datetime64[us]", "neighborhood_id": "str", "charge_code": "str"})


def program_areas(engine: Engine, source: str = programs_demo.SLUG) -> dict[str, str]:
    """Return program_id -> neighborhood_id of the loaded (geocoded) demo programs."""
    with engine.connect() as conn:
        rows = conn.execute(text(PROGRAM_AREAS_SQL), {"source": source}).fetchall()
    if not rows:
        raise InputError("dim_programs", f"no geocoded {source} programs are loaded",
                         "Load the demo programs first (pulse ingest programs --demo)")
    return {str(p): str(a) for p, a in rows}


def teds_reasons(data_dir: Path) -> pd.DataFrame:
    """Return service_setting, discharge_reason, n: the real TEDS-D sample's discharge reasons by setting."""
    raw = pa.Table.from_batches(list(teds_d.read_raw(Path(data_dir) / TEDS_D_SAMPLE))).to_pandas()
    std = teds_d.to_standard(raw)
    std = std[std["quarantine_reason"].isna()].dropna(subset=["discharge_reason"])
    return (std.groupby(["service_setting", "discharge_reason"], dropna=False).size().rename("n").reset_index()
            .astype({"service_setting": "float64", "discharge_reason": "int64", "n": "int64"}))


def read_admissions_export(path: Path) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Return the demo admissions export as text and its truth file (None when absent)."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, "file not found", "Write it first: pulse demo-data treatment")
    export = pd.read_csv(path, dtype="str", keep_default_na=False)
    truth_path = path.with_suffix("").with_name(path.stem + ".truth.csv")
    truth = pd.read_csv(truth_path, dtype={"source_area_id": "str"}) if truth_path.exists() else None
    return export, truth


def read_outcome_inputs(engine: Engine, programs_dir: Path, admissions_path: Path, data_dir: Path) -> OutcomeInputs:
    """Return the generator's inputs from the warehouse and the demo files."""
    programs, sessions, roster = programs_demo.read_demo(programs_dir)
    if roster is None:
        raise InputError(Path(programs_dir) / "roster.csv", "file not found", "Write it first: pulse demo-data programs")
    admissions, truth = read_admissions_export(admissions_path)
    return OutcomeInputs(real_arrests(engine), programs, sessions, roster, program_areas(engine), admissions, truth,
                         teds_reasons(data_dir), load_teds_codes(data_dir))


def demo_inputs(data_dir: Path, engine: Engine, programs_seed: int | None = None, admissions_seed: int = 2017,
                n_admissions: int = 20_000) -> OutcomeInputs:
    """Return the generator's inputs with the demo programs and admissions generated in memory
    (the same seeds as ``pulse demo-data programs`` / ``treatment`` write), program areas from the
    programs generator's sites, and the real arrests from ``engine``'s fct_incidents."""
    from tasks.synthetic import programs as programs_gen
    from tasks.synthetic import treatment as treatment_gen

    data_dir = Path(data_dir)
    found = programs_gen.read_inputs(data_dir)
    feed = programs_gen.generate_programs(found["neighborhoods"], found["population"], found["incidents_by_area"],
                                          programs_gen.DEFAULT_SEED if programs_seed is None else programs_seed,
                                          blocks=found["blocks"])
    codes = load_teds_codes(data_dir)
    admissions = treatment_gen.generate_admissions(codes, *treatment_gen.load_address_reference(data_dir),
                                                   n=n_admissions, seed=admissions_seed)
    areas = dict(zip(feed.sites["program_id"], feed.sites["neighborhood_id"].astype("str")))
    return OutcomeInputs(real_arrests(engine), feed.programs, feed.sessions, feed.roster, areas, admissions.export,
                         admissions.truth, teds_reasons(data_dir), codes)

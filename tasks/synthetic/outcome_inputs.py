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
import pyarrow.csv as pacsv
from sqlalchemy import Engine, text

from schemas.errors import InputError
from schemas.teds_codes import load_teds_codes
from tasks.sources import programs_demo
from tasks.sources import treatment_discharges_teds as teds_d
from tasks.synthetic.arrests import OutcomeInputs

TEDS_D_SAMPLE = "teds/tedsd_2023_sample_decoded.csv"
CRIME_FILES = tuple(f"chicago_crimes/chicago_crimes_{y}.csv.gz" for y in ("2015", "2016", "2017", "2018_through_1112"))
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


def real_arrests_from_files(data_dir: Path, files=CRIME_FILES) -> pd.DataFrame:
    """Return the arrests of the Chicago incident files themselves (``Arrest`` true), with the source's
    own community area: arrested_on, neighborhood_id, charge_code. Same shape as ``real_arrests``
    (97.7% of incidents lie in the area they are labelled with; see STACK_NOTES)."""
    cols = ["Date", "IUCR", "Arrest", "Community Area"]
    opts = pacsv.ConvertOptions(include_columns=cols, column_types={c: pa.string() for c in cols})
    tables = []
    for name in files:
        path = Path(data_dir) / name
        if not path.exists():
            raise InputError(path, "file not found", "Check the data directory setting (PULSE_DATA_DIR)")
        tables.append(pacsv.read_csv(path, convert_options=opts))
    raw = pa.concat_tables(tables).to_pandas()
    raw = raw[raw["Arrest"].str.lower().eq("true") & raw["Community Area"].fillna("").str.fullmatch(r"0*[1-9]\d*")]
    return pd.DataFrame({
        "arrested_on": pd.to_datetime(raw["Date"], format="%m/%d/%Y %I:%M:%S %p").dt.normalize().astype("datetime64[us]"),
        "neighborhood_id": raw["Community Area"].str.lstrip("0").astype("str"),
        "charge_code": raw["IUCR"].str.strip().str.upper().str.zfill(4).astype("str"),
    }).reset_index(drop=True)


def demo_inputs(data_dir: Path, skeleton: pd.DataFrame, programs_seed: int | None = None,
                admissions_seed: int = 2017, n_admissions: int = 20_000) -> OutcomeInputs:
    """Return the generator's inputs with the demo programs and admissions generated in memory
    (the same seeds as ``pulse demo-data programs`` / ``treatment`` write) and program areas from
    the programs generator's sites. ``skeleton``: ``real_arrests`` or ``real_arrests_from_files``."""
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
    return OutcomeInputs(skeleton, feed.programs, feed.sessions, feed.roster, areas, admissions.export,
                         admissions.truth, teds_reasons(data_dir), codes)

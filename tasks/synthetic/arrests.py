"""``pulse demo-data arrests``: a SYNTHETIC person-level arrests export with a planted program effect.

Every real arrest of ``fct_incidents`` (date, community area, IUCR) becomes one export line whose
person comes from the demo person register (``tasks.synthetic.persons``): residents, the demo
programs' participants (raw roster ids) and the demo admissions' clients (raw client ids). Written
with ``SYNTHETIC = Y``; no line describes a real person.

**Planted effect** (the recovery check's ground truth): each participant of a program in
``planted_programs`` independently, with probability ``1 - planted_rr``, has no arrest in the
``EFFECT_MONTHS`` after their first session (those arrests are removed; everyone else keeps
theirs). So for a participant of a planted program the risk of re-arrest within any window up to
12 months after the first session is exactly ``planted_rr`` times what it would have been, in
expectation, for any charge and for drug charges alike; participants of other programs have no
effect. ``truth["realized"]`` gives the same ratio as it came out in this sample (both worlds).

**Defects** (``DEFECT_KINDS``), added as extra lines (duplicates copy a line), each recorded in the
manifest with the expectation of expectations/arrests.json it must trip.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from schemas.iucr_codes import DRUG_CATEGORY_BY_IUCR
from tasks.outcomes.cohort import PRIOR_WINDOW_MONTHS
from tasks.sources.arrests_export import EXPORT_COLUMNS
from tasks.synthetic import discharges as dis
from tasks.synthetic import persons

DEFAULT_SEED = 20181112
# The four earliest roster programs of the demo (support group, diversion, youth program,
# treatment linkage): the most participants with 12 months of follow-up, so the most power.
PLANTED_PROGRAMS = ("demo-001", "demo-003", "demo-004", "demo-005")
PLANTED_RR = 0.75
EFFECT_MONTHS = 12
DEFECT_KINDS = ("unknown_charge_code", "before_birth", "future_date", "impossible_date", "unknown_area",
                "missing_person_id", "duplicate_identical", "duplicate_conflicting")
DEFECT_EXPECTATION = {
    "unknown_charge_code": ("expect_column_values_to_be_in_set", "charge_code"),
    "before_birth": ("expect_column_pair_values_a_to_be_greater_than_b", "arrested_on"),
    "future_date": ("expect_column_values_to_be_between", "arrested_on"),
    "impossible_date": ("expect_column_values_to_not_be_null", "arrested_on"),
    "unknown_area": ("expect_column_values_to_be_in_set", "neighborhood_id"),
    "missing_person_id": ("expect_column_values_to_not_be_null", "person_key"),
    "duplicate_identical": ("expect_column_values_to_be_unique", "arrest_id"),
    "duplicate_conflicting": ("expect_column_values_to_be_unique", "arrest_id"),
}
UNKNOWN_CHARGES = ("9999", "0000", "X12")
UNKNOWN_AREAS = ("0", "78", "99")


class OutcomeInputs(NamedTuple):
    skeleton: pd.DataFrame  # real arrests: arrested_on (datetime64), neighborhood_id, charge_code
    programs: pd.DataFrame  # programs.csv as text (tasks.synthetic.programs)
    sessions: pd.DataFrame  # sessions.csv as text
    roster: pd.DataFrame  # roster.csv as text (raw PARTICIPANT_ID)
    program_areas: dict  # program_id -> neighborhood_id of its site
    admissions: pd.DataFrame  # the demo admissions export as text (tasks.synthetic.treatment)
    admissions_truth: pd.DataFrame | None  # its truth file: row, address_kind, source_area_id
    reasons: pd.DataFrame  # service_setting, discharge_reason, n: real TEDS-D frequencies
    codes: pd.DataFrame  # schemas.teds_codes.load_teds_codes output


class DemoOutcomes(NamedTuple):
    arrests: pd.DataFrame  # EXPORT_COLUMNS text, one row per export line (defects included)
    admissions: pd.DataFrame  # extra admissions of participants (treatment_provider layout, text)
    discharges: pd.DataFrame  # discharge export text (treatment_discharges_provider layout)
    register: pd.DataFrame  # truth per person: person_id, role, neighborhood_id, sex, born_on, program_id, ...
    defects: pd.DataFrame  # file, row, record_id, defect, expectation, column
    truth: dict


def plant_effect(arrests: pd.DataFrame, parts: pd.DataFrame, planted: tuple[str, ...], rr: float,
                 rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (arrests without the removed ones, participants with ``is_planted``, ``is_desisting``)."""
    p = parts.assign(is_planted=parts["program_id"].isin(planted))
    p["is_desisting"] = p["is_planted"] & (rng.random(len(p)) < 1.0 - rr)
    d = p[p["is_desisting"]]
    window = pd.DataFrame({"person": d["person"].to_numpy(), "start": d["first_session_on"].to_numpy(),
                           "end": (d["first_session_on"] + pd.DateOffset(months=EFFECT_MONTHS)).to_numpy()})
    a = arrests.merge(window, on="person", how="left")
    drop = a["start"].notna() & (a["arrested_on"] > a["start"]) & (a["arrested_on"] <= a["end"])
    return arrests.loc[~drop.to_numpy()].reset_index(drop=True), p


def realized_effect(before: pd.DataFrame, after: pd.DataFrame, parts: pd.DataFrame, data_end: pd.Timestamp,
                    months: int, drug_codes: set[str] | None = None) -> dict:
    """Return the sample's own risk ratio for planted participants with a prior arrest and full
    follow-up: re-arrested within ``months`` with the effect / without it (same people)."""
    p = parts[parts["is_planted"]]
    fs = p["first_session_on"]
    p = p[(fs + pd.DateOffset(months=months)) <= data_end]

    def events(arrests: pd.DataFrame) -> pd.Series:
        a = arrests if drug_codes is None else arrests[arrests["charge_code"].isin(drug_codes)]
        m = p[["person", "first_session_on"]].merge(a[["person", "arrested_on"]], on="person", how="left")
        hit = (m["arrested_on"] > m["first_session_on"]) & \
              (m["arrested_on"] <= m["first_session_on"] + pd.DateOffset(months=months))
        return hit.groupby(m["person"]).any()

    m = p[["person", "first_session_on"]].merge(before[["person", "arrested_on"]], on="person", how="left")
    prior = (m["arrested_on"] < m["first_session_on"]) & \
            (m["arrested_on"] >= m["first_session_on"] - pd.DateOffset(months=PRIOR_WINDOW_MONTHS))
    cohort = prior.groupby(m["person"]).any()
    cohort = cohort[cohort].index
    n0, n1 = int(events(before).reindex(cohort).sum()), int(events(after).reindex(cohort).sum())
    return {"n_cohort": len(cohort), "events_without_effect": n0, "events_with_effect": n1,
            "risk_ratio": n1 / n0 if n0 else None}


def arrests_text(arrests: pd.DataFrame, persons_: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Return the clean export lines (EXPORT_COLUMNS, text) in date order, with ordinary spelling variety."""
    who = persons_.set_index("person")
    a = arrests.sort_values(["arrested_on", "person"], kind="stable").reset_index(drop=True)
    sex = who["sex"].reindex(a["person"]).map({1: "M", 2: "F"}).to_numpy(dtype=object)
    sex[rng.random(len(a)) < 0.01] = "U"
    code = a["charge_code"].to_numpy(dtype=object).copy()
    short = rng.random(len(a)) < 0.08  # some systems drop the leading zero ('486')
    code[short] = pd.Series(code[short]).str.lstrip("0").to_numpy(dtype=object)
    return pd.DataFrame({
        "ARREST_ID": [f"AR{i + 1:08d}" for i in range(len(a))],
        "PERSON_ID": who["person_id"].reindex(a["person"]).to_numpy(),
        "BIRTH_DATE": who["born_on"].reindex(a["person"]).dt.strftime("%Y-%m-%d").to_numpy(),
        "SEX": sex,
        "ARREST_DATE": a["arrested_on"].dt.strftime("%Y-%m-%d").to_numpy(),
        "CHARGE_CODE": code,
        "AREA": a["neighborhood_id"].to_numpy(),
        "SYNTHETIC": "Y",
    })[list(EXPORT_COLUMNS)].astype("str")


def add_defects(export: pd.DataFrame, rate: float, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return the export with about ``rate`` x rows defective extra lines (each kind at least once)
    in random positions, and the manifest (row = position in the returned export)."""
    n_each = max(1, round(rate * len(export) / len(DEFECT_KINDS)))
    sources = rng.choice(len(export), size=n_each * len(DEFECT_KINDS), replace=False)
    extra, pos, kinds = [], [], []
    next_id = len(export) + 1
    for j, kind in enumerate(np.repeat(DEFECT_KINDS, n_each)):
        src = int(sources[j])
        row = export.iloc[src].to_dict()
        if not kind.startswith("duplicate"):
            row["ARREST_ID"], next_id = f"AR{next_id:08d}", next_id + 1
        if kind == "unknown_charge_code":
            row["CHARGE_CODE"] = UNKNOWN_CHARGES[j % len(UNKNOWN_CHARGES)]
        elif kind == "before_birth":
            row["BIRTH_DATE"] = (pd.Timestamp(row["ARREST_DATE"]) + pd.Timedelta(days=int(rng.integers(30, 1500)))
                                 ).strftime("%Y-%m-%d")
        elif kind == "future_date":  # the usual typo: year digits swapped (2017 -> 2071)
            y = row["ARREST_DATE"][:4]
            row["ARREST_DATE"] = y[:2] + y[3] + y[2] + row["ARREST_DATE"][4:]
        elif kind == "impossible_date":
            row["ARREST_DATE"] = row["ARREST_DATE"][:4] + ("-02-30", "-04-31", "-13-01")[j % 3]
        elif kind == "unknown_area":
            row["AREA"] = UNKNOWN_AREAS[j % len(UNKNOWN_AREAS)]
        elif kind == "missing_person_id":
            row["PERSON_ID"] = ""
        elif kind == "duplicate_conflicting":  # the record was edited after the first export
            row["CHARGE_CODE"] = "0486" if row["CHARGE_CODE"] != "0486" else "0460"
        extra.append(row)
        kinds.append(kind)
        pos.append(src + 0.5 if kind.startswith("duplicate") else rng.uniform(0, len(export)))
    order = np.argsort(np.r_[np.arange(len(export), dtype=float), pos], kind="stable")
    out = pd.concat([export, pd.DataFrame(extra, columns=export.columns)], ignore_index=True).iloc[order]
    where = np.empty(len(order), dtype=np.int64)
    where[order] = np.arange(len(order))
    rows = where[len(export):]
    manifest = pd.DataFrame({
        "file": "arrests.csv", "row": rows, "record_id": [r["ARREST_ID"] for r in extra], "defect": kinds,
        "expectation": [DEFECT_EXPECTATION[k][0] for k in kinds], "column": [DEFECT_EXPECTATION[k][1] for k in kinds],
    }).sort_values("row").reset_index(drop=True)
    return out.reset_index(drop=True).astype("str"), manifest


def generate_outcomes_demo(inputs: OutcomeInputs, seed: int = DEFAULT_SEED,
                           planted_programs: tuple[str, ...] = PLANTED_PROGRAMS, planted_rr: float = PLANTED_RR,
                           defect_rate: float = 0.005) -> DemoOutcomes:
    """Return the synthetic arrests export, participants' extra admissions, the discharges and the truth.

    Same seed, same inputs -> identical frames.
    """
    if not 0 < planted_rr <= 1:
        raise ValueError("planted_rr must be in (0, 1]")
    rng = np.random.default_rng(seed)
    parts = persons.participations(inputs.roster, inputs.sessions, inputs.programs)
    clients = persons.client_table(inputs.admissions, inputs.admissions_truth)
    reg = persons.build_register(inputs.skeleton, parts, inputs.program_areas, clients, rng)
    arrests, parts = plant_effect(reg.arrests, reg.participants, tuple(planted_programs), planted_rr, rng)
    export, defects = add_defects(arrests_text(arrests, reg.persons, rng), defect_rate, rng)
    data_end = inputs.skeleton["arrested_on"].max()
    named = arrests.merge(reg.persons[["person", "person_id"]], on="person")
    linked = dis.linked_admissions(parts, reg.persons, inputs, rng, data_end)
    discharges, dis_defects = dis.discharges(pd.concat([inputs.admissions, linked], ignore_index=True), named,
                                             inputs.reasons, rng, data_end)
    drug = set(DRUG_CATEGORY_BY_IUCR)
    truth = {
        "synthetic": True, "seed": seed, "planted_programs": list(planted_programs), "planted_rr": planted_rr,
        "effect": f"each participant of a planted program has, with probability {1 - planted_rr:.2f}, no arrest in "
                  f"the {EFFECT_MONTHS} months after their first session",
        "data_end": f"{data_end:%Y-%m-%d}",
        "realized": {f"{c}_{m}m": realized_effect(reg.arrests, arrests, parts, data_end, m, codes)
                     for c, codes in (("any", None), ("drug", drug)) for m in (6, 12)},
        "n_arrests": len(export), "n_removed_by_effect": len(reg.arrests) - len(arrests),
        "n_people_arrested": int(named["person_id"].nunique()),
        "n_participants": len(parts), "n_desisting": int(parts["is_desisting"].sum()),
        "n_linked_admissions": len(linked), "n_discharges": len(discharges),
        "defect_counts": pd.concat([defects, dis_defects])["defect"].value_counts().sort_index().to_dict(),
    }
    register = reg.persons[reg.persons["person_id"].notna()].merge(
        parts[["person", "program_id", "first_session_on", "is_planted", "is_desisting"]], on="person", how="left")
    return DemoOutcomes(export, linked, discharges, register.drop(columns=["person"]),
                        pd.concat([defects, dis_defects], ignore_index=True), truth)


def write_demo_outcomes(out_dir: Path | str, inputs: OutcomeInputs, **options) -> DemoOutcomes:
    """Generate and write arrests.csv, treatment_admissions_linked.csv, treatment_discharges.csv,
    plus the truth files register.csv, defects.csv and truth.json; return the frames."""
    demo = generate_outcomes_demo(inputs, **options)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    demo.arrests.to_csv(out / "arrests.csv", index=False)
    demo.admissions.to_csv(out / "treatment_admissions_linked.csv", index=False)
    demo.discharges.to_csv(out / "treatment_discharges.csv", index=False)
    demo.register.to_csv(out / "register.csv", index=False)
    demo.defects.to_csv(out / "defects.csv", index=False)
    (out / "truth.json").write_text(json.dumps(demo.truth, indent=2, default=str) + "\n", encoding="utf-8")
    return demo

"""Synthetic treatment episodes for the outcomes demo (SYNTHETIC): participants' admissions and
provider discharges for every demo admission.

- ``linked_admissions``: some participants enter treatment after their first session (a share by
  program type, ``LINK_SHARES``), under their roster id, in the admissions export's layout. Whether
  and when is drawn independently of their arrests, so it cannot bias the re-arrest comparison.
- ``discharges``: one discharge per admission that ends by the data end: length of stay by service
  setting (``STAY_MEDIAN_DAYS``, log-normal), reason drawn from the real TEDS-D 2023 sample's
  reasons within that service setting, ARRESTS_D from the person's own synthetic arrests in the 30
  days before discharge. An episode ends before the client's next admission. Known defects are
  added (``DEFECT_KINDS``).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from schemas.arrests import age_group_code, age_in_years
from schemas.teds_codes import code_frequencies
from tasks.sources.treatment_discharges_provider import EXPORT_COLUMNS as DISCHARGE_COLUMNS
from tasks.synthetic.treatment import CODE_FIELDS, EXPORT_COLUMNS

LINK_SHARES = {"treatment_linkage": 0.45, "diversion": 0.35, "support_group": 0.20, "youth_program": 0.05}
LINK_MEAN_DAYS = 60  # mean wait from first session to admission (exponential, within a year)
# PSOURCE of those admissions: 6 other community referral (the program), 7 court, 1 self.
LINK_PSOURCE = {6: 0.60, 7: 0.25, 1: 0.15}
STAY_MEDIAN_DAYS = {1: 4, 2: 5, 3: 14, 4: 21, 5: 75, 6: 45, 7: 90, 8: 7}  # by SERVICES code
STAY_SIGMA = 0.7
DATE_FORMAT = "%m/%d/%Y"
DEFECT_KINDS = ("before_admission", "impossible_date", "unknown_admission", "duplicate_discharge",
                "missing_client_id", "invalid_reason")
DEFECT_EXPECTATION = {
    "before_admission": ("expect_column_values_to_be_between", "length_of_stay_days"),
    "impossible_date": ("expect_column_values_to_not_be_null", "discharged_on"),
    "unknown_admission": ("expect_column_values_to_be_in_set", "admission_id"),
    "duplicate_discharge": ("expect_column_values_to_be_unique", "admission_id"),
    "missing_client_id": ("expect_column_values_to_not_be_null", "client_key"),
    "invalid_reason": ("expect_column_values_to_be_in_set", "discharge_reason"),
}


def _draw(rng: np.random.Generator, codes: pd.DataFrame, variable: str, size: int) -> np.ndarray:
    p = code_frequencies(codes, variable)
    p = p[p.index >= 0] / p[p.index >= 0].sum()  # generated rows are complete
    return rng.choice(p.index.to_numpy(dtype="int64"), size=size, p=p.to_numpy())


def linked_admissions(parts: pd.DataFrame, people: pd.DataFrame, inputs, rng: np.random.Generator,
                      data_end: pd.Timestamp) -> pd.DataFrame:
    """Return admissions (EXPORT_COLUMNS text) of participants who enter treatment after their program starts.

    Residences are copied from demo admissions of the program's area (truth's source area), so
    they geocode into that area like any other export line.
    """
    share = parts["program_type"].map(LINK_SHARES).fillna(0.0).to_numpy()
    wait = np.minimum(rng.exponential(LINK_MEAN_DAYS, len(parts)), 364).astype(int)
    chosen = rng.random(len(parts)) < share
    p = parts.assign(admitted_on=parts["first_session_on"] + pd.to_timedelta(wait, unit="D"))
    p = p[chosen & (p["admitted_on"] <= data_end).to_numpy()].reset_index(drop=True)
    who = people.set_index("person").loc[p["person"]]
    n = len(p)
    age = age_group_code(age_in_years(who["born_on"].reset_index(drop=True), p["admitted_on"]))
    codes = {f: _draw(rng, inputs.codes, f, n) for f in ("SUB1", "SUB2", "ROUTE1", "FREQ1", "NOPRIOR", "SERVICES")}
    homes = _homes(inputs, p["program_id"].map(inputs.program_areas), rng)
    providers = inputs.admissions["PROVIDER_ID"].dropna().unique()
    frame = pd.DataFrame({
        "ADMISSION_ID": [f"L{i + 1:08d}" for i in range(n)],
        "PROVIDER_ID": rng.choice(np.sort(providers), size=n) if n else [],
        "CLIENT_ID": p["person_id"].to_numpy(),
        "ADMIT_DATE": p["admitted_on"].dt.strftime(DATE_FORMAT).to_numpy(),
        "AGE": age.to_numpy(), "GENDER": who["sex"].to_numpy(),
        **codes,
        "PSOURCE": rng.choice(list(LINK_PSOURCE), size=n, p=list(LINK_PSOURCE.values())),
        "ADDRESS": homes["ADDRESS"].to_numpy(), "ZIP": homes["ZIP"].to_numpy(), "SYNTHETIC": "Y",
    })
    for col in CODE_FIELDS:
        frame[col] = frame[col].astype("Int64").astype("str")
    return frame[list(EXPORT_COLUMNS)].astype("str")


def _homes(inputs, areas: pd.Series, rng: np.random.Generator) -> pd.DataFrame:
    base = inputs.admissions
    truth = inputs.admissions_truth
    if truth is None:
        return base[["ADDRESS", "ZIP"]].iloc[rng.integers(0, len(base), len(areas))].reset_index(drop=True)
    ok = (truth["address_kind"] == "block").to_numpy()
    src = truth["source_area_id"].astype("str").to_numpy()
    rows = []
    for area in areas:
        pool = np.flatnonzero(ok & (src == str(area)))
        pool = pool if len(pool) else np.flatnonzero(ok)
        rows.append(int(pool[rng.integers(len(pool))]))
    return base[["ADDRESS", "ZIP"]].iloc[rows].reset_index(drop=True)


def discharges(admissions: pd.DataFrame, arrests: pd.DataFrame, reasons: pd.DataFrame, rng: np.random.Generator,
               data_end: pd.Timestamp, defect_rate: float = 0.01) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (discharge export text in DISCHARGE_COLUMNS, defect manifest).

    ``admissions``: export text (base demo export plus linked admissions); lines with an
    unparseable date and repeated admission ids (the export's own defects) get no discharge.
    ``arrests``: person_id, arrested_on. ``reasons``: service_setting, discharge_reason, n.
    """
    a = admissions.assign(admitted_on=pd.to_datetime(admissions["ADMIT_DATE"], format=DATE_FORMAT, errors="coerce"))
    a = a.dropna(subset=["admitted_on"]).drop_duplicates("ADMISSION_ID", keep=False)
    a = a.sort_values(["CLIENT_ID", "admitted_on"], kind="stable").reset_index(drop=True)
    next_adm = a.groupby("CLIENT_ID")["admitted_on"].shift(-1)
    setting = pd.to_numeric(a["SERVICES"], errors="coerce")
    median = setting.map(STAY_MEDIAN_DAYS).fillna(30).to_numpy()
    stay = np.floor(median * np.exp(rng.normal(0, STAY_SIGMA, len(a)))).astype(int)
    out_on = a["admitted_on"] + pd.to_timedelta(stay, unit="D")
    clash = next_adm.notna() & (out_on >= next_adm)
    out_on = out_on.mask(clash, next_adm - pd.Timedelta(days=1)).clip(lower=a["admitted_on"])
    reason = _reasons(setting, reasons, rng)
    reason = np.where(clash.to_numpy(), 4, reason)  # readmitted elsewhere before the stay ended: transferred
    keep = (out_on <= data_end).to_numpy()
    a, out_on, reason = a[keep].reset_index(drop=True), out_on[keep].reset_index(drop=True), reason[keep]
    export = pd.DataFrame({
        "ADMISSION_ID": a["ADMISSION_ID"], "PROVIDER_ID": a["PROVIDER_ID"], "CLIENT_ID": a["CLIENT_ID"],
        "ADMIT_DATE": a["ADMIT_DATE"], "DISCHARGE_DATE": out_on.dt.strftime(DATE_FORMAT),
        "REASON": pd.Series(reason).astype(str), "ARRESTS_D": _arrests_before(a["CLIENT_ID"], out_on, arrests),
        "SYNTHETIC": "Y",
    })
    export = export.assign(_on=out_on).sort_values(["_on", "ADMISSION_ID"], kind="stable").drop(columns="_on")
    return _defects(export.reset_index(drop=True)[list(DISCHARGE_COLUMNS)].astype("str"), defect_rate, rng)


def _reasons(setting: pd.Series, reasons: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    overall = reasons.groupby("discharge_reason")["n"].sum()
    out = np.empty(len(setting), dtype=np.int64)
    for code, idx in pd.Series(np.arange(len(setting))).groupby(setting.fillna(-1).to_numpy()):
        table = reasons[reasons["service_setting"] == code].set_index("discharge_reason")["n"]
        table = table if table.sum() >= 20 else overall  # too few real rows: the national mix
        out[idx.to_numpy()] = rng.choice(table.index.to_numpy(dtype="int64"), size=len(idx), p=(table / table.sum()).to_numpy())
    return out


def _arrests_before(client: pd.Series, out_on: pd.Series, arrests: pd.DataFrame) -> pd.Series:
    """Return the TEDS ARRESTS_D code (0, 1, 2 = two or more) of arrests in the 30 days before discharge."""
    m = pd.DataFrame({"person_id": client.to_numpy(), "out_on": out_on.to_numpy(), "row": np.arange(len(client))})
    m = m.merge(arrests[["person_id", "arrested_on"]], on="person_id", how="inner")
    hit = (m["arrested_on"] <= m["out_on"]) & (m["arrested_on"] > m["out_on"] - pd.Timedelta(days=30))
    n = hit.groupby(m["row"]).sum().reindex(np.arange(len(client)), fill_value=0)
    return pd.Series(np.minimum(n.to_numpy(), 2)).astype(str)


def _defects(clean: pd.DataFrame, rate: float, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    export = clean.copy()
    n_each = max(1, round(rate * len(export) / len(DEFECT_KINDS)))
    src = rng.choice(len(export), size=n_each * len(DEFECT_KINDS), replace=False)
    rows, kinds = [], []
    for j, kind in enumerate(np.repeat(DEFECT_KINDS, n_each)):
        row = export.iloc[int(src[j])].to_dict()
        if kind == "before_admission":
            admit = pd.to_datetime(row["ADMIT_DATE"], format=DATE_FORMAT)
            row["DISCHARGE_DATE"] = (admit - pd.Timedelta(days=int(rng.integers(3, 90)))).strftime(DATE_FORMAT)
        elif kind == "impossible_date":
            row["DISCHARGE_DATE"] = ("02/30/", "04/31/", "13/01/")[j % 3] + row["DISCHARGE_DATE"][-4:]
        elif kind == "unknown_admission":
            row["ADMISSION_ID"] = f"X{j + 1:08d}"
        elif kind == "missing_client_id":
            row["CLIENT_ID"] = ""
        elif kind == "invalid_reason":
            row["REASON"] = ("9", "0", "12")[j % 3]
        elif kind == "duplicate_discharge":  # re-sent with another reason
            row["REASON"] = "7" if row["REASON"] != "7" else "2"
        if kind not in ("duplicate_discharge", "unknown_admission"):
            export.iloc[int(src[j])] = pd.Series(row)  # the line itself is wrong
        else:
            rows.append(row)
        kinds.append((kind, row["ADMISSION_ID"]))
    out = pd.concat([export, pd.DataFrame(rows, columns=export.columns)], ignore_index=True).astype("str")
    manifest = pd.DataFrame({"file": "treatment_discharges.csv", "row": -1,
                             "record_id": [r for _, r in kinds], "defect": [k for k, _ in kinds],
                             "expectation": [DEFECT_EXPECTATION[k][0] for k, _ in kinds],
                             "column": [DEFECT_EXPECTATION[k][1] for k, _ in kinds]})
    first = {v: i for i, v in reversed(list(enumerate(out["ADMISSION_ID"])))}
    manifest["row"] = manifest["record_id"].map(first).astype("int64")
    return out, manifest

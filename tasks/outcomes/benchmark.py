"""The national benchmark from real TEDS-D rows: completion and arrests-reduced rates by referral source.

Input: canonical TEDS_STATE_DISCHARGES rows (``tasks.sources.treatment_discharges_teds``). State
level, public: no small-cell suppression (the public-use file is already disclosure-protected),
but every rate carries its Wilson interval and its counts, so a rate from 4 rows reads as such.

- completion: REASON = 1 among discharges with a known reason;
- arrests reduced: among discharges with at least one arrest in the 30 days before admission,
  fewer arrests in the 30 days before discharge. NOTE: in the decoded 2023 sample a blank
  ARRESTS_D means "none or not reported" (see the adapter), so a blank counts as none here and
  the rate is an upper bound; on the numeric PUF -9 is left out of the denominator instead.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from schemas.discharges import MISSING
from tasks.outcomes.treatment import rate_table

REFERRAL_GROUPS = {7: "criminal_justice"}  # other known codes -> 'other', -9/null -> 'unknown'
BENCHMARK_COLUMNS = ("referral_group", "n_discharges", "n_completed", "completion_rate", "completion_rate_ci_low",
                     "completion_rate_ci_high", "n_arrested_at_admission", "n_arrests_reduced",
                     "arrests_reduced_rate", "arrests_reduced_rate_ci_low", "arrests_reduced_rate_ci_high")


def referral_group(referral_source: pd.Series) -> pd.Series:
    """Return 'criminal_justice' (PSOURCE 7), 'other' (any other code) or 'unknown' (-9 / null)."""
    code = pd.to_numeric(referral_source, errors="coerce")
    out = code.map(REFERRAL_GROUPS).fillna("other")
    return out.mask(code.isna() | (code == MISSING), "unknown").astype("str")


def arrests_reduced(admission: pd.Series, discharge: pd.Series) -> pd.Series:
    """Return per discharge: True/False where there was an arrest before admission, else null.

    A null ARRESTS_D counts as 0 (decoded sample: 'none or not reported'); -9 makes it unknown.
    """
    adm = pd.to_numeric(admission, errors="coerce")
    dis = pd.to_numeric(discharge, errors="coerce")
    known = (adm > 0).fillna(False) & ~(dis == MISSING).fillna(False)
    return (dis.fillna(0) < adm).astype("boolean").where(known)


def teds_benchmark(teds: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Return BENCHMARK_COLUMNS: one row per referral group plus 'all'."""
    f = teds.assign(referral_group=referral_group(teds["referral_source"]),
                    is_reduced=arrests_reduced(teds["arrests_at_admission"], teds["arrests_at_discharge"]))
    rows = []
    for frame, by in ((f, ["referral_group"]), (f.assign(referral_group="all"), ["referral_group"])):
        done = rate_table(frame, by, "is_completed", alpha, "n_discharges", "n_completed", "completion_rate")
        less = rate_table(frame, by, "is_reduced", alpha, "n_arrested_at_admission", "n_arrests_reduced",
                          "arrests_reduced_rate")
        rows.append(done.merge(less, on=by, how="left"))
    out = pd.concat(rows, ignore_index=True)
    for c in ("n_arrested_at_admission", "n_arrests_reduced"):
        out[c] = out[c].fillna(0).astype("int64")
    return out[list(BENCHMARK_COLUMNS)]


def completion_by(teds: pd.DataFrame, column: str, alpha: float = 0.05) -> pd.DataFrame:
    """Return completion (n, completed, rate, Wilson interval) by any TEDS-D column, e.g. age group or substance."""
    return rate_table(teds, [column], "is_completed", alpha, "n_discharges", "n_completed", "completion_rate")


def rate_difference(benchmark: pd.DataFrame, a: str = "criminal_justice", b: str = "other") -> float:
    """Return the completion-rate difference between two referral groups (a - b), NaN if either is absent."""
    rates = benchmark.set_index("referral_group")["completion_rate"]
    return float(rates.get(a, np.nan) - rates.get(b, np.nan))

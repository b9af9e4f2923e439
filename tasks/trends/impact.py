"""Program impact: every registered impact estimator, plus one calibrated headline row per program.

``estimate_program_impact(inputs)`` is what the trends flow calls: it runs every method of kind
"impact" in the registry (``tasks/trends/methods/``), then adds one row per program with
``method = "headline"``: the first calibrated method that could estimate it (methods that fail
calibration on placebo programs are exploratory and never the headline), Benjamini-Hochberg
q-values across programs, and one sentence on what the estimate can and cannot say
(``impact_sentence``). Method notes and calibration: docs/methods.md, bench/impact_calibration.py.
"""
from __future__ import annotations

import json
import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from schemas.errors import InputError
from tasks.trends.series import details_json
from tasks.trends.impact_panel import PROGRAM_IMPACT_COLUMNS, impact_frame
from tasks.trends.placebo import benjamini_hochberg
from tasks.trends.registry import Method, TrendInputs, methods

__all__ = ["PROGRAM_IMPACT_COLUMNS", "HEADLINE", "estimate_program_impact", "headline_rows", "impact_sentence",
           "impact_summary", "program_impact"]
HEADLINE = "headline"
# An interval wider than this ratio (e.g. 0.5 to 2) says nothing a reader can use.
MAX_CONCLUSIVE_WIDTH = 4.0


def estimate_program_impact(inputs: TrendInputs, grain: str = "month") -> pd.DataFrame:
    """Return program_impact rows: one per program x impact method, then one ``headline`` row per program.

    ``inputs.series[grain]``: long counts (neighborhood_id, period_start, value) of one metric;
    ``inputs.programs``: program_id, neighborhood_id, started_on; ``inputs.neighborhoods``:
    neighborhood_id (+ geometry_wkt to exclude areas adjacent to a program area, name for the
    sentences). ``inputs.params`` overrides ``impact_panel.DEFAULTS`` (alpha, min_pre, ...).
    """
    if inputs.programs is None or inputs.programs.empty:
        return impact_frame([])
    only = dict(inputs.params).get("methods")
    estimators = [m for m in methods("impact") if grain in m.grains and (only is None or m.name in only)]
    parts = [m.run(inputs, grain) for m in estimators]
    rows = pd.concat([p for p in parts if not p.empty], ignore_index=True) if parts else impact_frame([])
    names = {}
    if "name" in inputs.neighborhoods:
        names = dict(zip(inputs.neighborhoods["neighborhood_id"].astype(str), inputs.neighborhoods["name"]))
    head = headline_rows(rows, estimators, names=names, metric=inputs.metric,
                         alpha=float(dict(inputs.params).get("alpha", 0.05)))
    return impact_frame(rows.to_dict("records") + head.to_dict("records"))


def headline_rows(rows: pd.DataFrame, estimators: list[Method], *, names: Mapping[str, str] | None = None,
                  metric: str = "events", alpha: float = 0.05) -> pd.DataFrame:
    """Return one ``headline`` row per program: the first calibrated method's row, q-value and sentence.

    Preference: methods registered with ``headline=True``, then the other non-exploratory ones,
    in registry order; a program none of them could estimate gets a "cannot tell" row with the
    headline method's reason. Exploratory methods (details.exploratory) are never chosen.
    """
    order = [m.name for m in estimators if m.headline] + [m.name for m in estimators if not m.headline]
    chosen = []
    for pid, group in rows.groupby("program_id", sort=False):
        by_method = {r["method"]: r for r in group.to_dict("records")}
        candidates = [by_method[m] for m in order if m in by_method and not _details(by_method[m]).get("exploratory")]
        if not candidates:
            continue
        pick = next((r for r in candidates if math.isfinite(r["estimate"])), candidates[0])
        chosen.append(pick)
    if not chosen:
        return impact_frame([])
    q = benjamini_hochberg([r["p_value"] for r in chosen])
    out = []
    for row, q_value in zip(chosen, q):
        info = _details(row)
        info.update({"source_method": row["method"], "q_value": q_value,
                     "significant_after_fdr": bool(np.isfinite(q_value) and q_value < alpha),
                     "fdr": "Benjamini-Hochberg across the programs' headline p-values"})
        area = row["neighborhood_id"]
        info["sentence"] = impact_sentence({**row, "details": info}, (names or {}).get(area, area), metric)
        info["cannot_tell"] = bool(info.get("cannot_tell") or not is_conclusive({**row, "details": info}))
        out.append({**row, "method": HEADLINE, "details": details_json(info)})
    return impact_frame(out)


def is_conclusive(row: Mapping) -> bool:
    """Return whether a row's interval is closed, finite and narrower than MAX_CONCLUSIVE_WIDTH (hi / lo)."""
    info = _details(row)
    lo, hi = row.get("ci_low"), row.get("ci_high")
    if info.get("skipped") or lo is None or hi is None or not (math.isfinite(lo) and math.isfinite(hi)) or lo <= 0:
        return False
    if info.get("ci_open_low") or info.get("ci_open_high") or info.get("ci_empty"):
        return False
    if float(info.get("min_attainable_p", 0.0)) > float(info.get("alpha", 0.05)):
        return False
    return hi / lo <= MAX_CONCLUSIVE_WIDTH


def impact_sentence(row: Mapping, area_name: str | None = None, metric: str = "events") -> str:
    """Return one plain sentence on what a program_impact row can and cannot say."""
    info = _details(row)
    label = metric.replace("_", " ")
    where = f"in {area_name}" if area_name else "in the area"
    earlier = info.get("earlier_programs_in_area") or []
    after = (f" It started after {', '.join(earlier)} in the same area, so it can only show a change on top of "
             f"{'that program' if len(earlier) == 1 else 'those programs'}." if earlier else "")
    if info.get("skipped"):
        return f"Cannot tell: {info['skipped']}."
    rr, lo, hi, p = row["estimate"], row["ci_low"], row["ci_high"], row["p_value"]
    interval = f"95% interval {_fmt_rr(lo, info.get('ci_open_low'))} to {_fmt_rr(hi, info.get('ci_open_high'))}"
    min_p, alpha = float(info.get("min_attainable_p", 0.0)), float(info.get("alpha", 0.05))
    if min_p > alpha:
        return (f"Cannot tell: with {info.get('n_distinct_placebos')} placebos the smallest possible p is "
                f"{min_p:.2g}, so no result could pass a {alpha:g} test ({_change(rr)}, {interval}); a longer series "
                f"is needed.{after}")
    if not is_conclusive(row):
        return (f"Cannot tell: {label} {where} after the start are compatible with anything from "
                f"{_change(lo)} to {_change(hi)} ({interval}); the data are too thin or too variable.{after}")
    resolution = (f"p = {p:.2g}; with {info.get('n_distinct_placebos')} placebo start"
                  f"{'s' if info.get('n_distinct_placebos') != 1 else ''} no p below "
                  f"{info.get('min_attainable_p', float('nan')):.2g} is possible")
    fdr = "" if info.get("significant_after_fdr", True) else ", not significant after false-discovery control"
    if p < float(info.get("alpha", 0.05)):
        return (f"{label.capitalize()} {where} ran {_change(rr)} against the comparison areas after the start "
                f"({interval}; {resolution}{fdr}); a shift this large at a random month is rare in this area's own "
                f"history, but anything else that changed there at the same time would look the same.{after}")
    power = (info.get("calibration") or {}).get("power")
    miss = (f" This method detects a 20% fall only about {round(100 * power)}% of the time, so an effect of that "
            "size could be missed." if power else "")
    return (f"The change in {label} {where} after the start ({_change(rr)} against the comparison areas, "
            f"{interval}; {resolution}) does not stand out from the area's usual ups and downs.{miss}{after}")


def impact_summary(headlines: pd.DataFrame, alpha: float = 0.05, synthetic: bool = False) -> str:
    """Return one sentence counting the headline estimates that are significant, against chance."""
    est = headlines[headlines["method"] == HEADLINE]
    tested = est[np.isfinite(est["p_value"].astype(float))]
    if tested.empty:
        return "No program could be estimated."
    hits = int((tested["p_value"] < alpha).sum())
    fdr = sum(bool(_details(r).get("significant_after_fdr")) for r in tested.to_dict("records"))
    chance = len(tested) * alpha
    demo = (" The demo programs are synthetic and have no built-in effect, so every 'significant' one here is "
            "chance." if synthetic else "")
    return (f"{hits} of {len(tested)} programs show p < {alpha:g}; about {chance:.1f} would by chance alone if no "
            f"program changed anything. {fdr} remain after Benjamini-Hochberg false-discovery control.{demo}")


def program_impact(programs: pd.DataFrame, panel: pd.DataFrame, population: pd.DataFrame, *,
                   metric: str | None = None, alpha: float = 0.05, min_pre: int = 12,
                   min_post: int = 6) -> pd.DataFrame:
    """Return ``estimate_program_impact`` rows from the flow's current arguments (monthly panel, areas).

    ``population`` (or a neighborhoods frame) needs ``neighborhood_id``; with ``geometry_wkt``
    areas adjacent to program areas are left out of the comparisons, without it they are kept.
    """
    for col in ("program_id", "neighborhood_id", "started_on"):
        if col not in programs.columns:
            raise InputError("programs", f"missing column {col}", "Pass program_id, neighborhood_id, started_on")
    hoods = population.assign(neighborhood_id=population["neighborhood_id"].astype(str))
    inputs = TrendInputs(metric=metric or "events", series={"month": panel}, neighborhoods=hoods,
                         programs=programs, params={"alpha": alpha, "min_pre": min_pre, "min_post": min_post})
    return estimate_program_impact(inputs, "month")


def _details(row: Mapping) -> dict:
    raw = row.get("details")
    return dict(raw) if isinstance(raw, Mapping) else (json.loads(raw) if raw else {})


def _fmt_rr(value, open_end=False) -> str:
    if value is None or not math.isfinite(value):
        return "?"
    return f"{'<=' if open_end and value < 1 else '>=' if open_end else ''}{value:.2f}"


def _change(rr) -> str:
    if rr is None or not math.isfinite(rr):
        return "an unknown change"
    pct = round(100 * (rr - 1))
    return "no change" if pct == 0 else f"{abs(pct)}% {'lower' if pct < 0 else 'higher'}"

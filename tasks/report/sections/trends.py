"""Sustained trends: the headline trend method's rows (Mann-Kendall with Sen's slope), citywide and per area.

Shows the citywide row, every area with a rising trend and the steepest falls; a gap in a source
is missing, not zero (``tasks.trends.methods.mann_kendall``).
"""
from __future__ import annotations

import json
from html import escape

import pandas as pd

from tasks.report.findings import fmt_num, fmt_p, fmt_pct, fmt_signed
from tasks.report.html import place, section, table
from tasks.report.sections import ReportContext, Section
from tasks.trends.registry import methods

K = 10


def _trend_rows(signals: pd.DataFrame, metric: str) -> pd.DataFrame:
    outputs = [o for m in methods("trend") if m.headline for o in m.outputs]
    return signals[signals["method"].isin(outputs) & (signals["metric"] == metric)] if len(signals) else signals


def read(wh, ctx: ReportContext) -> dict | None:
    from warehouse.reads import read_table

    return {"trends": _trend_rows(read_table(wh, "trend_signals"), "drug_incidents"), "metric": "drug_incidents"}


def data_from(report) -> dict | None:
    rows = _trend_rows(report.signals, report.metric)
    return {"trends": rows, "metric": report.metric} if len(rows) else None


def render(data: dict, ctx: ReportContext) -> str:
    mk = data["trends"].copy()
    if mk.empty:
        return ""
    names = ctx.names
    mk["pct"] = [json.loads(d).get("pct_per_year") for d in mk["details"]]
    city = mk[mk["neighborhood_id"].isna()]
    areas = mk[mk["neighborhood_id"].notna()]
    pick = pd.concat([city, areas[areas["level"] == "increasing"],
                      areas[areas["level"] == "decreasing"].sort_values("score").head(K)])
    rows = [[place(r.neighborhood_id, names),
             r.level.replace("_", " "), fmt_signed(r.score), "" if r.pct is None else fmt_pct(r.pct / 100),
             fmt_num(r.statistic), fmt_p(r.p_value)] for r in pick.itertuples()]
    seasonal = mk["method"].eq("seasonal_mann_kendall").any()
    counts = areas["level"].value_counts()
    return section(f"Sustained trends (monthly{', seasonal' if seasonal else ''} Mann-Kendall)",
                   table([ctx.area_label, "trend", "Sen's slope / yr", "% of mean / yr", "z", "p"], rows, {2, 3, 4}),
                   f"Citywide, every {escape(ctx.area_label)} with a rising trend, and the {K} steepest falls. "
                   f"{escape(ctx.area_label_plural).capitalize()}: {counts.get('decreasing', 0)} decreasing, "
                   f"{counts.get('increasing', 0)} increasing, {counts.get('no_trend', 0)} without a significant "
                   "trend (p &lt; 0.05, not corrected for testing many areas). Months a source did not cover are "
                   "missing, not zero.")


SECTION = Section("trends", "Sustained trends", read, render)

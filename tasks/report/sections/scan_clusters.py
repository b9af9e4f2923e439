"""Scan clusters: the space-time permutation scan's most likely and secondary clusters, on a map.

Rows of the registry's cluster methods (``stp_scan``: Kulldorff 2005, the SaTScan method): each
row is one cluster of adjacent areas over the last days of data, with its observed and expected
counts, relative risk, Monte Carlo p and recurrence interval; ``level`` 'alarm' when the
recurrence interval reaches the alarm rule.
"""
from __future__ import annotations

import json
from html import escape

import pandas as pd

from tasks.report.html import num, section, table
from tasks.report.sections import ReportContext, Section
from tasks.report.svg import choropleth, project_shapes
from tasks.trends.registry import methods

COLORS = ("#99000d", "#ef6548", "#fdbb84", "#fee8c8")


def _cluster_rows(signals: pd.DataFrame) -> pd.DataFrame:
    outputs = [o for m in methods("cluster") for o in m.outputs]
    return signals[signals["method"].isin(outputs)] if len(signals) else signals


def read(wh, ctx: ReportContext) -> dict | None:
    from warehouse.reads import read_table

    return {"clusters": _cluster_rows(read_table(wh, "trend_signals"))}


def data_from(report) -> dict | None:
    return {"clusters": _cluster_rows(report.signals)} if len(report.signals) else None


def render(data: dict, ctx: ReportContext) -> str:
    rows = data["clusters"]
    names = ctx.names
    shapes = project_shapes(ctx.neighborhoods, ctx.projected_crs)
    if rows.empty:
        return section("Emerging clusters (space-time scan)",
                       "<p>No cluster: the scan found no window with at least its minimum count, or did not run.</p>")
    details = [json.loads(d) for d in rows["details"]]
    frame = rows.assign(rank=[d.get("rank", 0) for d in details], members=[d.get("member_ids", []) for d in details],
                        observed=[d.get("observed") for d in details], expected=[d.get("expected") for d in details],
                        ri=[d.get("recurrence_interval_days") for d in details]).sort_values("rank")
    fills, titles, legend = {}, {}, []
    for k, r in enumerate(frame.head(len(COLORS)).itertuples()):
        color = COLORS[k]
        for a in r.members:
            fills.setdefault(str(a), color)
            titles.setdefault(str(a), f"{names.get(str(a), a)}: cluster {r.rank}")
        legend.append((color, f"cluster {r.rank}: {len(r.members)} {ctx.area_label_plural if len(r.members) != 1 else ctx.area_label}"))
    titles = {i: titles.get(i, names.get(i, i)) for i in shapes.paths}
    chart = choropleth(shapes, fills, titles, legend, "map of scan clusters")
    tbl = table(["rank", "centre", "members", "days", "observed", "expected", "relative risk", "p",
                 "recurrence (days)", "alarm"],
                [[f"{r.rank}", escape(names.get(str(r.neighborhood_id), str(r.neighborhood_id))),
                  escape(", ".join(names.get(str(a), str(a)) for a in r.members)),
                  f"{pd.Timestamp(r.period_start):%Y-%m-%d} – {pd.Timestamp(r.period_end):%Y-%m-%d}",
                  num(r.observed), num(r.expected, 1), num(r.score, 2), f"{r.p_value:.3f}", num(r.ri),
                  "yes" if r.level == "alarm" else ""] for r in frame.itertuples()], {4, 5, 6, 7, 8})
    alarms = int((frame["level"] == "alarm").sum())
    intro = (f"<p><b>{len(frame)} cluster{'s' if len(frame) != 1 else ''}</b> reported, {alarms} reaching the alarm "
             "rule. The most likely cluster is the window of adjacent areas and recent days whose count departs most "
             "from what the areas' usual share of each day's total predicts.</p>")
    note = ("Space-time permutation scan (Kulldorff et al. 2005): windows end on the last day of data, 1–14 days "
            f"long, up to 10 adjacent {escape(ctx.area_label_plural)}; p from 999 permutations of dates (seeded); "
            "secondary clusters share no area with a more likely one. Calibration (docs/methods.md): on data with no "
            "cluster, 3.3% of 400 runs gave p &lt; 0.05. It finds shifts in where events happen, not a citywide rise.")
    return section("Emerging clusters (space-time scan)",
                   intro + tbl + "<div class='grid2'><div>" + chart + "</div><div></div></div>", note)


SECTION = Section("scan_clusters", "Emerging clusters (space-time scan)", read, render)

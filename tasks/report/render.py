"""The analyst report: frames from the warehouse -> one self-contained HTML page (inline CSS and SVG).

Inputs are aggregates only (trend_signals, program_impact, incident counts per area and period,
load audit and quarantine counts); nothing person-level is read. Headline sentences are computed
from the data, so they change when the data do.
"""
from __future__ import annotations

import json
from html import escape

import numpy as np
import pandas as pd

from tasks.report.compose import render_sections
from tasks.report.data import ReportData
from tasks.report.findings import findings
from tasks.report.html import section, table as _table
from tasks.report.sections import ReportContext
from tasks.report.svg import choropleth, line_chart, project_shapes, stacked_bar
from tasks.trends.registry import methods

__all__ = ["ReportData", "render_report", "section"]

HOTSPOT_COLORS = {
    "intensifying_hot_spot": "#99000d", "persistent_hot_spot": "#d7301f", "consecutive_hot_spot": "#ef6548",
    "new_hot_spot": "#fc8d59", "diminishing_hot_spot": "#fdbb84", "sporadic_hot_spot": "#fee08b",
    "oscillating_hot_spot": "#f4a6c8", "historical_hot_spot": "#fde0dd",
    "intensifying_cold_spot": "#08519c", "persistent_cold_spot": "#3182bd", "consecutive_cold_spot": "#6baed6",
    "new_cold_spot": "#9ecae1", "diminishing_cold_spot": "#c6dbef", "sporadic_cold_spot": "#a6bddb",
    "oscillating_cold_spot": "#b3cde3", "historical_cold_spot": "#deebf7", "no_pattern": "#ececec",
}
RATE_COLORS = ("#fef0d9", "#fdcc8a", "#fc8d59", "#e34a33", "#b30000")
PRECISION_COLORS = {"point": "#2b8cbe", "snapped": "#7bccc4", "area_label": "#fdae6b", "none": "#d7301f"}
ALARM_RED, ALARM_ORANGE = "#d7301f", "#f28e2b"
CSS = """
body{margin:0;background:#f5f6f8;color:#1f2933;font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif}
main{max-width:1180px;margin:0 auto;padding:18px 22px 40px}
h1{font-size:24px;margin:6px 0 2px}h2{font-size:17px;margin:0 0 8px}h3{font-size:14px;margin:10px 0 4px}
.sub{color:#52606d;margin:0 0 10px}
.card{background:#fff;border:1px solid #dde2e8;border-radius:8px;padding:14px 16px;margin:14px 0}
.grid2{display:grid;grid-template-columns:1fr 1fr;gap:14px}.grid2 .card{margin:0}
.badge{display:inline-block;background:#fff4ce;border:1px solid #e8c15a;color:#6b4e00;border-radius:4px;
 padding:1px 7px;font-size:12px;font-weight:600}
.banner{background:#fff8e1;border:1px solid #f0d48a;border-radius:8px;padding:8px 12px;margin:10px 0}
ul.find{margin:4px 0 0 18px;padding:0}ul.find li{margin:5px 0}
table{border-collapse:collapse;width:100%;font-size:12.5px}
th,td{padding:4px 7px;border-bottom:1px solid #e6e9ee;text-align:left}
th{background:#f0f3f6;font-weight:600}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.note{color:#616e7c;font-size:12px;margin:6px 0 0}.small-multiples svg{margin-bottom:4px}
footer{color:#616e7c;font-size:12px;margin-top:18px}
@media (max-width:900px){.grid2{grid-template-columns:1fr}}
"""


def render_report(data: ReportData) -> str:
    """Return the report as one HTML document (no external scripts, styles, fonts or images)."""
    ctx = data.ctx()
    names = ctx.names
    signals = data.signals[data.signals["metric"] == data.metric] if len(data.signals) else data.signals
    episodes = data.alert_episodes()
    episodes = episodes[episodes["metric"] == data.metric] if len(episodes) else episodes
    shapes = project_shapes(data.neighborhoods, ctx.projected_crs)
    programs = bool(len(data.programs)) and bool(data.programs["is_synthetic"].fillna(False).astype(bool).any())
    synthetic = [what for what, flag in (("drug-response programs", programs),
                                         ("treatment admissions", _synthetic_admissions(data.signals))) if flag]
    months = data.monthly["period_start"]
    head = (f"{ctx.city}: {data.metric.replace('_', ' ')} by {ctx.area_label}, "
            f"{data.span.first_day:%d %b %Y} to {data.span.last_day:%d %b %Y}")
    covered = f"Complete months {months.min():%b %Y}–{months.max():%b %Y}" if len(months) else "No complete month yet"
    body = [
        f"<h1>Community Pulse report</h1><p class='sub'>{escape(head)}. {covered}; "
        f"generated {data.generated_at:%Y-%m-%d %H:%M}.</p>",
        f"<div class='banner'><span class='badge'>SYNTHETIC</span> {' and '.join(synthetic).capitalize()} are "
        f"synthetic demo data generated for this pipeline; police incidents are real public records.</div>"
        if synthetic else "",
        section("Headline findings", "<ul class='find'>" + "".join(f"<li>{f}</li>" for f in findings(data, names))
                + "</ul>"),
        *render_sections(data, ctx),
        "<div class='grid2'>" + hotspot_map(signals, shapes, names) + rate_map(data, shapes, names, ctx) + "</div>",
        citywide_chart(data.weekly, episodes),
        top_alarm_charts(data.weekly, episodes, names, ctx),
        quality_panel(data.quality, ctx),
        "<footer>Methods (every registered one, tasks/trends/methods): "
        + "; ".join(f"<b>{escape(m.name)}</b> ({m.kind}): {escape(m.description)}" for m in methods())
        + ". Partial periods at the ends of the data are left out. See docs/methods.md in the repository.</footer>",
    ]
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width,initial-scale=1'>"
            f"<title>Community Pulse report – {escape(ctx.city)}</title><style>{CSS}</style></head>"
            f"<body><main>{''.join(body)}</main></body></html>")


def _synthetic_admissions(signals: pd.DataFrame) -> bool:
    adm = signals[signals["metric"] == "admissions"] if len(signals) else signals
    return any(json.loads(d).get("synthetic") for d in adm.get("details", []))


# ------------------------------------------------------------------------------ maps and charts

def hotspot_map(signals, shapes, names) -> str:
    hs = signals[signals["method"] == "emerging_hotspot"]
    levels = dict(zip(hs["neighborhood_id"], hs["level"]))
    fills = {i: HOTSPOT_COLORS.get(lv, "#ececec") for i, lv in levels.items()}
    titles = {i: f"{names.get(i, i)}: {levels.get(i, 'not analysed').replace('_', ' ')}" for i in shapes.paths}
    counts = pd.Series(list(levels.values())).value_counts()
    legend = [(HOTSPOT_COLORS[k], f"{k.replace('_', ' ')} ({counts[k]})") for k in HOTSPOT_COLORS if k in counts]
    flagged = hs[hs["level"] != "no_pattern"].sort_values("score", ascending=False)
    labels = {i: i for i in flagged["neighborhood_id"]}
    listing = "; ".join(f"<b>{escape(r.neighborhood_id)}</b> {escape(names.get(r.neighborhood_id, ''))} "
                        f"({r.level.replace('_', ' ')})" for r in flagged.itertuples())
    return section("Emerging hot spots of drug incidents",
                   choropleth(shapes, fills, titles, legend, "hot spot map", labels),
                   (f"Numbered areas: {listing}. " if listing else "")
                   + "Getis-Ord Gi* per area and month (FDR 5%), category from the whole series; hover an area "
                   "for its name.")


def rate_map(data: ReportData, shapes, names, ctx: ReportContext) -> str:
    areas = data.monthly[data.monthly["neighborhood_id"].notna()]
    if areas.empty:
        return section("Drug incidents per 10,000 residents",
                       choropleth(shapes, {}, {i: names.get(i, i) for i in shapes.paths}, [], "incident rate map"),
                       "No complete month of incidents yet.")
    last = areas["period_start"].max()
    recent = areas[areas["period_start"] > last - pd.DateOffset(months=12)]
    n = recent.groupby("neighborhood_id")["value"].sum()
    pop = data.neighborhoods.set_index("neighborhood_id")["population"]
    rate = (n / pop.reindex(n.index) * 10_000).replace([np.inf, -np.inf], np.nan).dropna()
    edges = np.unique(np.quantile(rate, np.linspace(0, 1, len(RATE_COLORS) + 1))) if len(rate) else np.array([0, 1])
    klass = np.clip(np.searchsorted(edges, rate.to_numpy(), side="right") - 1, 0, len(edges) - 2)
    fills = {i: RATE_COLORS[k] for i, k in zip(rate.index, klass)}
    titles = {i: f"{names.get(i, i)}: {rate[i]:,.1f} per 10,000 ({n[i]:,.0f} incidents)" if i in rate
              else f"{names.get(i, i)}: no population" for i in shapes.paths}
    digits = 1 if edges[-1] < 20 else 0  # sparse data: 0.4 - 1.2 rather than 0 - 1
    legend = [(RATE_COLORS[k], f"{edges[k]:,.{digits}f} – {edges[k + 1]:,.{digits}f}") for k in range(len(edges) - 1)]
    first = recent["period_start"].min()
    return section("Drug incidents per 10,000 residents",
                   choropleth(shapes, fills, titles, legend, "incident rate map"),
                   f"{first:%b %Y}–{last:%b %Y} (12 complete months), population: "
                   f"{escape(ctx.population_source or 'the boundary data')}; classes are quintiles.")


def _alarm_markers(episodes: pd.DataFrame, series: pd.DataFrame) -> pd.DataFrame:
    """One marker per week with an alert episode (its peak week): red for the headline decision, orange for
    a reference detector only (EARS)."""
    if episodes.empty:
        return pd.DataFrame(columns=["period_start", "color", "text"])
    value = dict(zip(series["period_start"], series["value"]))
    rows = []
    for start, g in episodes.groupby(pd.to_datetime(episodes["peak_period"])):
        headline = g["is_headline"].astype(bool).any()
        who = ", ".join(sorted(set(g["method"])))
        rows.append({"period_start": pd.Timestamp(start), "color": ALARM_RED if headline else ALARM_ORANGE,
                     "text": f"week of {pd.Timestamp(start):%d %b %Y}: {value.get(pd.Timestamp(start), 0):,.0f} "
                             f"incidents; alert episode ({who})"})
    return pd.DataFrame(rows)


def citywide_chart(weekly: pd.DataFrame, episodes: pd.DataFrame) -> str:
    city = weekly[weekly["neighborhood_id"].isna()].sort_values("period_start")
    if city.empty:
        return ""
    weekly_eps = episodes[episodes["neighborhood_id"].isna() & (episodes["grain"] == "week")] if len(episodes) \
        else episodes
    chart = line_chart(city["period_start"], city["value"], title="Citywide drug incidents per week",
                       y_label="incidents / week", markers=_alarm_markers(weekly_eps, city))
    return section("Citywide weekly series with alert episodes", chart,
                   "<span style='color:#d7301f'>&#9679;</span> peak week of a headline-detector episode, "
                   "<span style='color:#f28e2b'>&#9679;</span> reference detector (EARS) only. Weeks start on Monday; "
                   "partial weeks at either end are left out.")


def top_alarm_charts(weekly: pd.DataFrame, episodes: pd.DataFrame, names: dict[str, str], ctx: ReportContext,
                     k: int = 5) -> str:
    if episodes.empty:
        return ""
    own = episodes[episodes["neighborhood_id"].notna() & episodes["is_headline"].astype(bool)
                   & episodes["neighborhood_id"].isin(set(weekly["neighborhood_id"].dropna()))]
    if own.empty:
        return ""
    top = own.groupby("neighborhood_id").size().sort_values(ascending=False).head(k)
    charts = []
    for nid, n in top.items():
        series = weekly[weekly["neighborhood_id"] == nid].sort_values("period_start")
        mine = own[own["neighborhood_id"] == nid]
        wk = mine[mine["grain"] == "week"]
        title = (f"{names.get(nid, nid)}: {n} alert episode{'s' if n != 1 else ''} "
                 f"({(mine['grain'] == 'day').sum()} daily, {len(wk)} weekly)")
        charts.append(line_chart(series["period_start"], series["value"], title=title, y_label="per week",
                                 markers=_alarm_markers(wk, series), height=170))
    return section(f"The {len(top)} {ctx.area_label_plural} with the most alert episodes",
                   f"<div class='small-multiples'>{''.join(charts)}</div>",
                   "Weekly counts; dots mark the peak week of weekly episodes. Daily episodes are counted in each "
                   "title. Episodes, not alarm rows: consecutive alarm days are one episode.")


def quality_panel(q: dict[str, pd.DataFrame], ctx: ReportContext) -> str:
    b = q["batches"]
    rows = [[escape(r.source), escape(r.entity), f"{r.n_batches}", f"{r.n_validation_passed} / {r.n_batches}",
             f"{r.rows_read:,}", f"{r.rows_loaded:,}", f"{r.rows_quarantined:,}",
             f"{100 * r.rows_loaded / r.rows_read:.2f}%" if r.rows_read else "–"] for r in b.itertuples()]
    batches = _table(["source", "entity", "batches", "all expectations passed", "rows read", "loaded", "quarantined",
                      "row pass rate"], rows, {2, 3, 4, 5, 6, 7})
    qr = q["quarantine"].sort_values(["entity", "n_rows"], ascending=[True, False])
    reasons = _table(["entity", "reason", "rows"], [[escape(r.entity), escape(r.reason), f"{r.n_rows:,}"]
                                                    for r in qr.itertuples()], {2}) if len(qr) else "<p>None.</p>"
    p = q["precision"].sort_values("n_incidents", ascending=False)
    total = p["n_incidents"].sum()
    bar = stacked_bar([(r.geocode_precision, r.n_incidents, PRECISION_COLORS.get(r.geocode_precision, "#999"))
                       for r in p.itertuples()])
    prec = _table(["geocode precision", "incidents", "share"],
                  [[f"<span style='color:{PRECISION_COLORS.get(r.geocode_precision, '#999')}'>&#9632;</span> "
                    f"{escape(r.geocode_precision)}", f"{r.n_incidents:,}", f"{100 * r.n_incidents / total:.2f}%"]
                   for r in p.itertuples()], {1, 2}) if total else "<p>No incidents.</p>"
    return section("Data quality", f"<h3>Loads and validation</h3>{batches}<div class='grid2'><div>"
                   f"<h3>Quarantined rows by reason</h3>{reasons}</div><div><h3>Incident geocode precision</h3>"
                   f"{bar}{prec}</div></div>",
                   "point = the record's own coordinates; snapped = just outside every area, moved to the nearest; "
                   f"area_label = the source's {escape(ctx.area_label)} (no coordinates); none = not placed.")

"""The analyst report: frames from the warehouse -> one self-contained HTML page (inline CSS and SVG).

Inputs are aggregates only (trend_signals, program_impact, incident counts per area and period,
load audit and quarantine counts); nothing person-level is read. Headline sentences are computed
from the data, so they change when the data do.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from html import escape

import numpy as np
import pandas as pd

from tasks.report.findings import findings, fmt_num, fmt_p, fmt_pct, fmt_signed
from tasks.report.svg import choropleth, line_chart, project_shapes, stacked_bar
from tasks.trends.prepare import Span

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


@dataclass(frozen=True)
class ReportData:
    """Everything the report shows; every frame is an aggregate read by flows/report.py."""

    neighborhoods: pd.DataFrame  # neighborhood_id, name, population, geometry_wkt
    signals: pd.DataFrame  # trend_signals rows
    impact: pd.DataFrame  # program_impact rows
    programs: pd.DataFrame  # program_id, name, program_type, is_synthetic
    weekly: pd.DataFrame  # complete weeks: neighborhood_id (null = citywide), period_start, value
    monthly: pd.DataFrame  # complete months, same columns
    span: Span
    quality: dict[str, pd.DataFrame]  # batches, quarantine, precision (tasks.trends.prepare.read_data_quality)
    offenses: pd.DataFrame  # is_drug_offense, offense_category, n, n_arrest
    projected_crs: str = "EPSG:3435"
    generated_at: pd.Timestamp = field(default_factory=lambda: pd.Timestamp.now().floor("s"))
    city: str = "Chicago"
    metric: str = "drug_incidents"


def render_report(data: ReportData) -> str:
    """Return the report as one HTML document (no external scripts, styles, fonts or images)."""
    names = dict(zip(data.neighborhoods["neighborhood_id"], data.neighborhoods["name"]))
    signals = data.signals[data.signals["metric"] == data.metric] if len(data.signals) else data.signals
    shapes = project_shapes(data.neighborhoods, data.projected_crs)
    programs = bool(len(data.programs)) and bool(data.programs["is_synthetic"].fillna(False).astype(bool).any())
    synthetic = [what for what, flag in (("drug-response programs", programs),
                                         ("treatment admissions", _synthetic_admissions(data.signals))) if flag]
    months = data.monthly["period_start"]
    head = (f"{data.city}: drug incidents by community area, "
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
        "<div class='grid2'>" + hotspot_map(signals, shapes, names) + rate_map(data, shapes, names) + "</div>",
        citywide_chart(data.weekly, signals),
        top_alarm_charts(data.weekly, signals, names),
        trend_table(signals, names),
        impact_table(data.impact, data.programs, names),
        quality_panel(data.quality),
        "<footer>Methods: seasonal Mann-Kendall with Sen's slope; CDC EARS C1/C2/C3 (7-period baseline, "
        "sd floored at max(1, &radic;mean)); emerging hot spots = Getis-Ord Gi* on the area &times; month cube "
        "(queen contiguity + previous month, Benjamini-Hochberg per month) then Mann-Kendall on each area's z; "
        "program impact = interrupted time series (Poisson, HAC errors) and difference-in-differences "
        "(placebo-in-space inference). Partial periods at the ends of the data are left out. "
        "See docs/methods.md in the repository.</footer>",
    ]
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width,initial-scale=1'>"
            f"<title>Community Pulse report – {escape(data.city)}</title><style>{CSS}</style></head>"
            f"<body><main>{''.join(body)}</main></body></html>")


def _synthetic_admissions(signals: pd.DataFrame) -> bool:
    adm = signals[signals["metric"] == "admissions"] if len(signals) else signals
    return any(json.loads(d).get("synthetic") for d in adm.get("details", []))


def section(title: str, inner: str, note: str = "") -> str:
    return (f"<section class='card'><h2>{escape(title)}</h2>{inner}"
            + (f"<p class='note'>{note}</p>" if note else "") + "</section>")


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


def rate_map(data: ReportData, shapes, names) -> str:
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
                   f"{first:%b %Y}–{last:%b %Y} (12 complete months), 2010 Census population; classes are quintiles.")


def _alarm_markers(alarms: pd.DataFrame, series: pd.DataFrame) -> pd.DataFrame:
    """One marker per alarming period: red when C1 or C2 alarmed, orange for C3 only."""
    if alarms.empty:
        return pd.DataFrame(columns=["period_start", "color", "text"])
    value = dict(zip(series["period_start"], series["value"]))
    rows = []
    for start, g in alarms.groupby("period_start"):
        methods = sorted(m.replace("ears_", "").upper() for m in g["method"])
        rows.append({"period_start": pd.Timestamp(start), "color": ALARM_RED if set(methods) - {"C3"} else ALARM_ORANGE,
                     "text": f"week of {pd.Timestamp(start):%d %b %Y}: {value.get(pd.Timestamp(start), 0):,.0f} "
                             f"incidents; alarm {', '.join(methods)}"})
    return pd.DataFrame(rows)


def citywide_chart(weekly: pd.DataFrame, signals: pd.DataFrame) -> str:
    city = weekly[weekly["neighborhood_id"].isna()].sort_values("period_start")
    if city.empty:
        return ""
    alarms = signals[signals["neighborhood_id"].isna() & (signals["grain"] == "week") & (signals["level"] == "alarm")]
    alarms = alarms.assign(period_start=pd.to_datetime(alarms["period_start"]))
    chart = line_chart(city["period_start"], city["value"], title="Citywide drug incidents per week",
                       y_label="incidents / week", markers=_alarm_markers(alarms, city))
    return section("Citywide weekly series with EARS alarms", chart,
                   "<span style='color:#d7301f'>&#9679;</span> C1 or C2 alarm, <span style='color:#f28e2b'>&#9679;"
                   "</span> C3 only. Weeks start on Monday; partial weeks at either end are left out.")


def top_alarm_charts(weekly: pd.DataFrame, signals: pd.DataFrame, names: dict[str, str], k: int = 5) -> str:
    alarms = signals[signals["method"].str.startswith("ears_") & (signals["level"] == "alarm")
                     & signals["neighborhood_id"].notna()]
    if alarms.empty:
        return ""
    top = alarms.groupby("neighborhood_id").size().sort_values(ascending=False).head(k)
    charts = []
    for nid, n in top.items():
        series = weekly[weekly["neighborhood_id"] == nid].sort_values("period_start")
        mine = alarms[(alarms["neighborhood_id"] == nid)]
        wk = mine[mine["grain"] == "week"].assign(period_start=lambda f: pd.to_datetime(f["period_start"]))
        title = (f"{names.get(nid, nid)}: {n} alarms ({(mine['grain'] == 'day').sum()} daily, "
                 f"{(mine['grain'] == 'week').sum()} weekly)")
        charts.append(line_chart(series["period_start"], series["value"], title=title, y_label="per week",
                                 markers=_alarm_markers(wk, series), height=170))
    return section(f"The {len(top)} community areas with the most EARS alarms",
                   f"<div class='small-multiples'>{''.join(charts)}</div>",
                   "Weekly drug incidents; dots mark weekly alarms. Daily alarms are counted in each title.")


# ----------------------------------------------------------------------------------- tables

def _table(header: list[str], rows: list[list[str]], numeric: set[int]) -> str:
    th = "".join(f"<th class='{'num' if i in numeric else ''}'>{escape(h)}</th>" for i, h in enumerate(header))
    body = "".join("<tr>" + "".join(f"<td class='{'num' if i in numeric else ''}'>{c}</td>" for i, c in enumerate(r))
                   + "</tr>" for r in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def trend_table(signals: pd.DataFrame, names: dict[str, str], k: int = 10) -> str:
    mk = signals[signals["method"].str.contains("mann_kendall")].copy()
    if mk.empty:
        return ""
    mk["pct"] = [json.loads(d).get("pct_per_year") for d in mk["details"]]
    city = mk[mk["neighborhood_id"].isna()]
    areas = mk[mk["neighborhood_id"].notna()]
    pick = pd.concat([city, areas[areas["level"] == "increasing"],
                      areas[areas["level"] == "decreasing"].sort_values("score").head(k)])
    rows = [[escape(names.get(r.neighborhood_id, "Citywide") if r.neighborhood_id else "Citywide"),
             r.level.replace("_", " "), fmt_signed(r.score), "" if r.pct is None else fmt_pct(r.pct / 100),
             fmt_num(r.statistic), fmt_p(r.p_value)] for r in pick.itertuples()]
    return section("Sustained trends (monthly, seasonal Mann-Kendall)",
                   _table(["area", "trend", "Sen's slope / yr", "% of mean / yr", "z", "p"], rows, {2, 3, 4}),
                   f"Citywide, every area with a rising trend, and the {k} steepest falls.")


def impact_table(impact: pd.DataFrame, programs: pd.DataFrame, names: dict[str, str]) -> str:
    if impact.empty:
        return section("Program impact", "<p>No programs in dim_programs.</p>")
    labels = dict(zip(programs["program_id"], programs["name"]))
    est = impact[impact["method"] != "not_estimated"].sort_values(["program_id", "method"], ascending=[True, False])
    method = {"its": "ITS level change", "did": "Diff-in-diff"}
    rows = []
    for r in est.itertuples():
        skipped = json.loads(r.details).get("skipped") if pd.isna(r.estimate) else None
        rows.append([escape(labels.get(r.program_id, r.program_id)), escape(names.get(r.neighborhood_id, "")),
                     f"{pd.Timestamp(r.started_on):%Y-%m-%d}", method.get(r.method, r.method),
                     escape(skipped) if skipped else f"{r.estimate:.2f}",
                     "" if skipped else f"{r.ci_low:.2f} – {r.ci_high:.2f}", "" if skipped else fmt_p(r.p_value),
                     f"{_int(r.n_pre)} / {_int(r.n_post)}"])
    not_est = impact[impact["method"] == "not_estimated"]
    reasons = not_est["details"].map(lambda d: json.loads(d).get("skipped", "")).value_counts()
    skipped_note = "; ".join(f"{n} not estimated: {escape(why)}" for why, n in reasons.items())
    return section("Program impact on monthly drug incidents",
                   "<p><span class='badge'>SYNTHETIC</span> The programs are synthetic demo data with no built-in "
                   "effect: read the estimates as a demonstration of the methods.</p>"
                   + _table(["program", "community area", "started", "method", "rate ratio", "95% CI", "p",
                             "months pre / post"], rows, {4, 5, 7}),
                   "Rate ratio &lt; 1 = fewer incidents than expected. " + skipped_note)


def _int(v) -> str:
    return "–" if pd.isna(v) else f"{int(v)}"


def quality_panel(q: dict[str, pd.DataFrame]) -> str:
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
                   "area_label = the source's community area (no coordinates); none = not placed.")

"""Alerts: the alert episodes (never trend_signals rows): how many, the latest ones, where they are open now.

One episode = consecutive alarm periods of one series, metric, grain and registered method
(``tasks.trends.episodes``). The decision is the headline detectors' episodes (registry
``headline``); the other alarm methods (EARS) are counted beside them as a reference.
"""
from __future__ import annotations

from html import escape

import pandas as pd

from tasks.report.html import num, place, section, table
from tasks.report.sections import ReportContext, Section
from tasks.report.svg import choropleth, project_shapes
from tasks.trends.registry import alarm_methods

OPEN_COLOR, RECENT_COLOR = "#d7301f", "#fc8d59"
LATEST = 15


def read(wh, ctx: ReportContext) -> dict | None:
    from warehouse.reads import read_table

    return {"episodes": read_table(wh, "alert_episodes")}


def data_from(report) -> dict:
    return {"episodes": report.alert_episodes()}


def render(data: dict, ctx: ReportContext) -> str:
    eps = data["episodes"]
    names = ctx.names
    shapes = project_shapes(ctx.neighborhoods, ctx.projected_crs)
    if eps is None or eps.empty:
        return section("Alerts", "<p>No alert episodes: no detector raised an alarm (or the trends flow has not run).</p>")
    eps = eps.assign(start_period=pd.to_datetime(eps["start_period"]), end_period=pd.to_datetime(eps["end_period"]),
                     peak_period=pd.to_datetime(eps["peak_period"]))
    head = eps[eps["is_headline"].astype(bool)]
    ref = eps[~eps["is_headline"].astype(bool)]
    ongoing = head[head["is_ongoing"].astype(bool)]
    counts = head.groupby(["metric", "grain", "kind"]).size()
    listing = "; ".join(f"{n:,} {escape(m.replace('_', ' '))} {g}ly {k} episode{'s' if n != 1 else ''}"
                        .replace("dayly", "daily") for (m, g, k), n in counts.items())
    ref_text = "; ".join(f"{escape(m)} ({g}ly): {n:,}".replace("dayly", "daily")
                         for (m, g), n in ref.groupby(["method", "grain"]).size().items())
    intro = (f"<p><b>{len(head):,} alert episodes</b> from the headline detectors ({listing}); "
             f"<b>{len(ongoing):,} open now</b> (reaching the last period of data).</p>"
             + (f"<p>Reference detectors, not part of the decision: {ref_text} episodes.</p>" if ref_text else ""))
    latest = head.sort_values(["end_period", "start_period"], ascending=False).head(LATEST)
    rows = [[place(r.neighborhood_id, names, r.area_ids), escape(r.metric.replace("_", " ")), escape(r.grain),
             escape(r.method) + f" <span class='note'>({escape(r.detectors)})</span>",
             f"{r.start_period:%Y-%m-%d}", f"{r.peak_period:%Y-%m-%d}", f"{r.end_period:%Y-%m-%d}",
             num(r.observed), num(r.expected, 1), "open" if r.is_ongoing else ""] for r in latest.itertuples()]
    tbl = table(["place", "metric", "grain", "detector (rules fired)", "start", "peak", "end", "observed",
                 "expected", ""], rows, {7, 8})
    open_ids = _members(ongoing)
    recent_ids = _members(latest) - open_ids
    fills = {i: OPEN_COLOR for i in open_ids} | {i: RECENT_COLOR for i in recent_ids}
    titles = {i: f"{names.get(i, i)}: {'open episode' if i in open_ids else 'latest episodes' if i in recent_ids else 'none'}"
              for i in shapes.paths}
    legend = [(OPEN_COLOR, f"open episode ({len(open_ids)})"), (RECENT_COLOR, f"in the latest {LATEST} ({len(recent_ids)})")]
    chart = choropleth(shapes, fills, titles, legend, "map of areas with alert episodes")
    descr = "; ".join(f"<b>{escape(m.name)}</b>: {escape(m.description)}" for m in alarm_methods(headline=True))
    note = (f"Observed and expected are summed over the episode's alarm periods. A pooled region or a cluster "
            f"colours every member {escape(ctx.area_label)}. Detectors: {descr}. Measured calibration on the real "
            f"daily series (docs/methods.md): about 0.8 false episodes per {escape(ctx.area_label)} per year, and a 14-day doubling is caught "
            "in about 44% of busy and 20% of mid-size areas, so a quiet map is not proof of no outbreak.")
    open_list = "".join(f"<li>{place(r.neighborhood_id, names, r.area_ids)}: {escape(r.method)} {escape(r.grain)}, "
                        f"since {r.start_period:%d %b %Y}, {num(r.observed)} observed vs {num(r.expected, 1)} expected</li>"
                        for r in ongoing.sort_values("start_period").itertuples())
    side = (f"<h3>Open now</h3><ul class='find'>{open_list}</ul>" if open_list else "<h3>Open now</h3><p>None.</p>")
    return section("Alerts", intro + tbl + "<div class='grid2'><div>" + chart + "</div><div>" + side + "</div></div>",
                   note)


def _members(frame: pd.DataFrame) -> set[str]:
    out = set()
    for key, ids in zip(frame["neighborhood_id"], frame["area_ids"]):
        out |= {a for a in str(ids or "").split(",") if a} or ({str(key)} if key is not None else set())
    return out


SECTION = Section("alerts", "Alerts", read, render)

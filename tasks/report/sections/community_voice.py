"""Report section: community voice, how safe residents feel and whether they trust the police, by area.

Two sources side by side, latest period of each: the Healthy Chicago Survey (CDPH, % of adults,
2-year pooled community-area estimates; interval and sample base where the Atlas publishes them)
and CPD/Elucd police sentiment scores (0-100, the last 12 months of sector scores, carried to
community areas by the population-weighted police-unit crosswalk). Published aggregates only.
"""
from __future__ import annotations

from dataclasses import dataclass
from html import escape

import numpy as np
import pandas as pd

from tasks.report.sections import ReportContext, Section
from tasks.report.svg import choropleth, project_shapes

COLORS = ("#f1eef6", "#bdc9e1", "#74a9cf", "#2b8cbe", "#045a8d")
PANELS = (("HCSNSP", "Feel safe in their neighborhood (% of adults)"),
          ("HCSTLEP", "Trust law enforcement (% of adults)"))
SENTIMENT = (("CPD_SAFETY", "CPD sentiment: safety"), ("CPD_TRUST", "CPD sentiment: trust"))
SOURCES = ("Healthy Chicago Survey via the Chicago Health Atlas (CDPH), community-area estimates; "
           "CPD / Elucd Police Sentiment Scores (City of Chicago portal 28me-84fj), sector scores carried to "
           "community areas by population-weighted overlap (tasks/geocode/crosswalk.py)")


@dataclass(frozen=True)
class VoiceData:
    rows: pd.DataFrame  # warehouse.health_reads.VOICE_COLUMNS


def read(wh, ctx: ReportContext) -> VoiceData | None:
    from warehouse.health_reads import read_community_voice

    rows = read_community_voice(wh)
    return VoiceData(rows) if len(rows) else None


def interval_text(estimate: float, lower: float, upper: float, digits: int = 1) -> str:
    """'59.2 (51.0–66.8)' when an interval is published, '59.2' otherwise; '—' when suppressed."""
    if pd.isna(estimate):
        return "—"
    if pd.notna(lower) and pd.notna(upper):
        return f"{estimate:.{digits}f} ({lower:.{digits}f}–{upper:.{digits}f})"
    return f"{estimate:.{digits}f}"


def wide(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per area: estimate text and value per indicator, plus each indicator's period."""
    out = {}
    for code, group in rows.groupby("indicator_code"):
        g = group.set_index("neighborhood_id")
        out[code] = g["estimate"]
        out[f"{code}_text"] = pd.Series([interval_text(e, lo, hi) for e, lo, hi in
                                         zip(g["estimate"], g["ci_lower"], g["ci_upper"])], index=g.index)
    return pd.DataFrame(out)


def _map(rows: pd.DataFrame, code: str, title: str, ctx: ReportContext) -> str:
    r = rows[rows["indicator_code"] == code]
    shown = r.dropna(subset=["estimate"])
    values = shown.set_index("neighborhood_id")["estimate"]
    edges = np.unique(np.quantile(values, np.linspace(0, 1, len(COLORS) + 1))) if len(values) else np.array([0, 1])
    klass = np.clip(np.searchsorted(edges, values.to_numpy(), side="right") - 1, 0, len(edges) - 2)
    fills = {i: COLORS[k] for i, k in zip(values.index, klass)}
    texts = {i: interval_text(e, lo, hi) for i, e, lo, hi in
             zip(r["neighborhood_id"], r["estimate"], r["ci_lower"], r["ci_upper"])}
    titles = {i: f"{ctx.names.get(i, i)}: {texts.get(i, 'no estimate')}" for i in ctx.neighborhoods["neighborhood_id"]}
    legend = [(COLORS[k], f"{edges[k]:.0f} – {edges[k + 1]:.0f}") for k in range(len(edges) - 1)]
    period = ", ".join(sorted(r["period_label"].dropna().unique()))
    shapes = project_shapes(ctx.neighborhoods, ctx.projected_crs)
    return (f"<div><h3>{escape(title)}{f' — {escape(period)}' if period else ''}</h3>"
            f"{choropleth(shapes, fills, titles, legend, title)}</div>")


def _table(rows: pd.DataFrame, ctx: ReportContext, k: int = 12) -> str:
    w = wide(rows)
    if "HCSNSP" not in w:
        return ""
    w = w.sort_values("HCSNSP").head(k)
    cols = [c for c, _ in (*PANELS, *SENTIMENT) if c in w]
    names = dict((*PANELS, *SENTIMENT))
    head = "".join(f"<th class='num'>{escape(names[c])}</th>" for c in cols)
    body = "".join(f"<tr><td>{escape(ctx.names.get(i, i))}</td>"
                   + "".join(f"<td class='num'>{escape(str(r.get(f'{c}_text', '—')))}</td>" for c in cols) + "</tr>"
                   for i, r in w.iterrows())
    return (f"<h3>The {k} {escape(ctx.area_label_plural)} where the fewest adults feel safe</h3>"
            f"<table><thead><tr><th>{escape(ctx.area_label.capitalize())}</th>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table>")


def render(data: VoiceData, ctx: ReportContext) -> str:
    rows = data.rows
    maps = "".join(_map(rows, code, title, ctx) for code, title in PANELS if (rows["indicator_code"] == code).any())
    has_ci = rows.loc[rows["source"] == "healthy_chicago_survey", "ci_lower"].notna().any()
    cpd = rows[rows["source"] == "police_sentiment"]
    cpd_period = ", ".join(sorted(cpd["period_label"].dropna().unique()))
    low_cov = int((cpd.drop_duplicates("neighborhood_id")["coverage"] < 0.99).sum()) if len(cpd) else 0
    notes = (f"Sources: {SOURCES}. "
             + ("Intervals are the published 95% limits. " if has_ci else
                "The Atlas downloads publish no intervals or sample sizes for these estimates; each comes from a "
                "small community-area sample, so differences of a few points between areas are within noise. ")
             + (f"Police sentiment: {cpd_period}, mean of monthly sector scores; {low_cov} area(s) are only "
                "partly covered by sectors that reported. " if len(cpd) else "")
             + "The survey periods (2021-2023) and the sentiment months do not match the police and overdose "
               "years: read this panel as context, not as an outcome of the programs.")
    return (f"<section class='card' id='community-voice'><h2>{escape(SECTION.title)}</h2>"
            f"<div class='grid2'>{maps}</div>{_table(rows, ctx)}<p class='note'>{escape(notes)}</p></section>")


SECTION = Section("community_voice", "Community voice: safety and trust by area", read, render)

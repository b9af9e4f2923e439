"""Inline SVG the health sections need beyond ``tasks.report.svg``: a monthly series with a shaded
(provisional) window, and a scatter of two per-area rates. Pure, escaped, no scripts."""
from __future__ import annotations

from html import escape

import pandas as pd

from tasks.report.svg import FONT, nice_ticks

LEFT, RIGHT, TOP, BOTTOM = 56, 14, 30, 34
SHADE = "#fde2c4"


def shaded_series(months: pd.Series, values: pd.Series, *, title: str, y_label: str,
                  shade_from: pd.Timestamp | None, shade_label: str = "provisional",
                  width: int = 1100, height: int = 260) -> str:
    """Return an SVG line chart of a monthly series; months from ``shade_from`` on lie on a shaded band.

    A null value (suppressed) breaks the line instead of drawing zero."""
    x = pd.to_datetime(pd.Series(months)).reset_index(drop=True)
    y = pd.Series(values, dtype="float64").reset_index(drop=True)
    t0, t1 = x.min(), x.max()
    span = max((t1 - t0).total_seconds(), 1.0)
    ticks = nice_ticks(float(y.max()) if y.notna().any() else 1.0)
    ymax = ticks[-1] or 1.0
    plot_w, plot_h = width - LEFT - RIGHT, height - TOP - BOTTOM

    def px(t) -> float:
        return LEFT + (pd.Timestamp(t) - t0).total_seconds() / span * plot_w

    def py(v: float) -> float:
        return TOP + plot_h - v / ymax * plot_h

    out = [f'<text x="{LEFT}" y="18" font-size="13" font-weight="600">{escape(title)}</text>']
    if shade_from is not None and pd.Timestamp(shade_from) <= t1:
        x0 = px(max(pd.Timestamp(shade_from), t0))
        out.append(f'<rect class="provisional" x="{x0:.1f}" y="{TOP}" width="{width - RIGHT - x0:.1f}" '
                   f'height="{plot_h}" fill="{SHADE}"><title>{escape(shade_label)} from {pd.Timestamp(shade_from):%b %Y}'
                   f'</title></rect><text x="{width - RIGHT - 4}" y="{TOP + 12}" font-size="10" text-anchor="end">'
                   f'{escape(shade_label)}</text>')
    for v in ticks:
        out.append(f'<line x1="{LEFT}" x2="{width - RIGHT}" y1="{py(v):.1f}" y2="{py(v):.1f}" stroke="#e3e3e3"/>'
                   f'<text x="{LEFT - 6}" y="{py(v) + 4:.1f}" font-size="10" text-anchor="end">{v:,.0f}</text>')
    for year in range(t0.year, t1.year + 1):
        tick = pd.Timestamp(year=year, month=1, day=1)
        if t0 <= tick <= t1:
            out.append(f'<line x1="{px(tick):.1f}" x2="{px(tick):.1f}" y1="{TOP}" y2="{TOP + plot_h}" stroke="#cfcfcf" '
                       f'stroke-dasharray="3,3"/><text x="{px(tick):.1f}" y="{height - 12}" font-size="11" '
                       f'text-anchor="middle">{year}</text>')
    out.append(f'<line x1="{LEFT}" x2="{width - RIGHT}" y1="{TOP + plot_h}" y2="{TOP + plot_h}" stroke="#777"/>')
    out.append(f'<text transform="translate(13,{TOP + plot_h / 2:.0f}) rotate(-90)" font-size="10" '
               f'text-anchor="middle">{escape(y_label)}</text>')
    runs, current = [], []
    for t, v in zip(x, y):
        if pd.isna(v):
            runs, current = runs + [current] if current else runs, []
            continue
        current.append(f"{px(t):.1f},{py(v):.1f}")
    runs += [current] if current else []
    out += [f'<polyline class="series" points="{" ".join(r)}" fill="none" stroke="#3b4a5a" stroke-width="1.4"/>'
            for r in runs]
    return (f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
            f'aria-label="{escape(title)}" style="{FONT}">{"".join(out)}</svg>')


def scatter(frame: pd.DataFrame, x: str, y: str, label: str, *, title: str, x_label: str, y_label: str,
            width: int = 540, height: int = 360) -> str:
    """Return an SVG scatter of ``frame[x]`` against ``frame[y]`` (rows with both), ``label`` as tooltip."""
    pts = frame.dropna(subset=[x, y])
    xt = nice_ticks(float(pts[x].max()) if len(pts) else 1.0)
    yt = nice_ticks(float(pts[y].max()) if len(pts) else 1.0)
    plot_w, plot_h = width - LEFT - RIGHT, height - TOP - BOTTOM

    def px(v: float) -> float:
        return LEFT + v / (xt[-1] or 1.0) * plot_w

    def py(v: float) -> float:
        return TOP + plot_h - v / (yt[-1] or 1.0) * plot_h

    out = [f'<text x="{LEFT}" y="18" font-size="13" font-weight="600">{escape(title)}</text>']
    for v in yt:
        out.append(f'<line x1="{LEFT}" x2="{width - RIGHT}" y1="{py(v):.1f}" y2="{py(v):.1f}" stroke="#e3e3e3"/>'
                   f'<text x="{LEFT - 6}" y="{py(v) + 4:.1f}" font-size="10" text-anchor="end">{v:,.4g}</text>')
    for v in xt:
        out.append(f'<text x="{px(v):.1f}" y="{TOP + plot_h + 14}" font-size="10" text-anchor="middle">{v:,.4g}</text>')
    out.append(f'<text x="{LEFT + plot_w / 2:.0f}" y="{height - 4}" font-size="10" text-anchor="middle">'
               f'{escape(x_label)}</text><text transform="translate(13,{TOP + plot_h / 2:.0f}) rotate(-90)" '
               f'font-size="10" text-anchor="middle">{escape(y_label)}</text>')
    for r in pts.itertuples(index=False):
        out.append(f'<circle class="area" cx="{px(getattr(r, x)):.1f}" cy="{py(getattr(r, y)):.1f}" r="3.5" '
                   f'fill="#3b6e9c" fill-opacity="0.75"><title>{escape(str(getattr(r, label)))}</title></circle>')
    return (f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
            f'aria-label="{escape(title)}" style="{FONT}">{"".join(out)}</svg>')

"""Inline SVG for the report: choropleth maps of neighborhood polygons and time-series line charts.

Pure functions returning SVG markup strings (no JavaScript, no external files), so the report
opens offline. Text is escaped; tooltips are SVG ``<title>`` elements.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape

import geopandas as gpd
import pandas as pd
from shapely import from_wkt, unary_union
from shapely.affinity import affine_transform
from shapely.geometry import MultiPolygon, Polygon, box
from shapely.geometry.base import BaseGeometry

FONT = "font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif"


@dataclass(frozen=True)
class MapShapes:
    """Projected areas in SVG pixel space: a path ``d`` per neighborhood_id, the size and the land footprint."""

    paths: dict[str, str]
    width: int
    height: int
    footprint: BaseGeometry  # union of the areas in pixel coordinates (for placing the legend)
    anchors: dict[str, tuple[float, float]]  # a point inside each area, for labels


def project_shapes(neighborhoods: pd.DataFrame, crs: str, width: int = 520) -> MapShapes:
    """Return the areas projected to ``crs`` and fitted to ``width`` pixels (north up).

    ``neighborhoods`` holds ``neighborhood_id`` and ``geometry_wkt`` (EPSG:4326). Geometries are
    simplified to about half a pixel so the file stays small.
    """
    gdf = gpd.GeoDataFrame(neighborhoods[["neighborhood_id"]].reset_index(drop=True),
                           geometry=from_wkt(neighborhoods["geometry_wkt"].to_numpy()), crs="EPSG:4326").to_crs(crs)
    minx, miny, maxx, maxy = gdf.total_bounds
    pad = 4
    scale = (width - 2 * pad) / (maxx - minx)
    height = int(math.ceil((maxy - miny) * scale + 2 * pad))
    geoms = gdf.geometry.simplify(0.5 / scale)
    paths, pixel, anchors = {}, [], {}
    for nid, geom in zip(gdf["neighborhood_id"], geoms):
        geom = affine_transform(geom, [scale, 0, 0, -scale, pad - minx * scale, pad + maxy * scale])
        pixel.append(geom)
        polys = geom.geoms if isinstance(geom, MultiPolygon) else [geom] if isinstance(geom, Polygon) else []
        parts = []
        for poly in polys:
            for ring in [poly.exterior, *poly.interiors]:
                parts.append("M" + "L".join(f"{x:.1f},{y:.1f}" for x, y in ring.coords) + "Z")
        paths[str(nid)] = "".join(parts)
        inside = geom.representative_point() if not geom.is_empty else None
        anchors[str(nid)] = (inside.x, inside.y) if inside is not None else (0.0, 0.0)
    return MapShapes(paths, width, height, unary_union(pixel).buffer(2), anchors)


def legend_origin(shapes: MapShapes, box_w: float, box_h: float, margin: float = 6) -> tuple[float, float, int]:
    """Return (x, y, extra height) for a legend box: the map corner it overlaps least, else below the map."""
    w, h = shapes.width, shapes.height
    corners = [(w - box_w - margin, margin), (margin, margin), (margin, h - box_h - margin),
               (w - box_w - margin, h - box_h - margin)]
    overlap = [(shapes.footprint.intersection(box(x, y, x + box_w, y + box_h)).area, i) for i, (x, y) in
               enumerate(corners)]
    area, best = min(overlap)
    if area <= 0.01 * box_w * box_h:
        return (*corners[best], 0)
    return margin, h + margin, int(box_h + 2 * margin)


def choropleth(shapes: MapShapes, fills: Mapping[str, str], titles: Mapping[str, str],
               legend: Sequence[tuple[str, str]], label: str, labels: Mapping[str, str] | None = None) -> str:
    """Return an SVG map: one ``<path>`` per area filled from ``fills`` with a ``<title>`` tooltip, plus a legend.

    ``legend`` is a list of (color, text) in the emptiest corner (or below the map); ``label`` is
    the map's accessible name. ``labels`` writes short text on the given areas.
    """
    paths, width = shapes.paths, shapes.width
    rows = []
    for nid, d in paths.items():
        rows.append(f'<path d="{d}" fill="{fills.get(nid, "#eeeeee")}" stroke="#ffffff" stroke-width="0.7" '
                    f'fill-rule="evenodd"><title>{escape(titles.get(nid, nid))}</title></path>')
    box_w = 26 + 6.2 * max((len(t) for _, t in legend), default=0)
    x0, y0, extra = legend_origin(shapes, box_w, len(legend) * 18 + 6)
    lx, ly, height = x0 + 4, y0 + 4, shapes.height + extra
    box = []
    for i, (color, text) in enumerate(legend):
        y = ly + i * 18
        box.append(f'<rect x="{lx}" y="{y}" width="14" height="12" fill="{color}" stroke="#999" stroke-width="0.5"/>'
                   f'<text x="{lx + 20}" y="{y + 10}" font-size="11">{escape(text)}</text>')
    text = [f'<text x="{shapes.anchors[i][0]:.1f}" y="{shapes.anchors[i][1] + 3:.1f}" font-size="10" '
            f'text-anchor="middle" stroke="#fff" stroke-width="2.5" paint-order="stroke">{escape(t)}</text>'
            for i, t in (labels or {}).items() if i in shapes.anchors]
    return (f'<svg class="map" viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="{escape(label)}" '
            f'style="{FONT}"><g class="areas">{"".join(rows)}</g><g class="labels" pointer-events="none">'
            f'{"".join(text)}</g><g class="legend">{"".join(box)}</g></svg>')


def nice_ticks(top: float, n: int = 5) -> list[float]:
    """Return 0 and round tick values (1, 2, 2.5 or 5 x 10^k steps) covering 0..``top``."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    return [i * step for i in range(int(math.ceil(top / step)) + 1)]


def line_chart(dates: pd.Series, values: pd.Series, *, title: str, y_label: str,
               markers: pd.DataFrame | None = None, width: int = 1100, height: int = 260,
               value_label: str = "incidents") -> str:
    """Return an SVG line chart of a dated series with axes, year ticks and optional alarm markers.

    ``markers``: ``period_start``, ``color``, ``text`` (tooltip) for points on the line.
    """
    left, right, top, bottom = 56, 14, 30, 34
    x = pd.to_datetime(pd.Series(dates)).reset_index(drop=True)
    y = pd.Series(values, dtype="float64").reset_index(drop=True)
    t0, t1 = x.min(), x.max()
    span = max((t1 - t0).total_seconds(), 1.0)
    ticks = nice_ticks(float(y.max()) if len(y) else 1.0)
    ymax = ticks[-1]
    plot_w, plot_h = width - left - right, height - top - bottom

    def px(t):
        return left + (pd.Timestamp(t) - t0).total_seconds() / span * plot_w

    def py(v):
        return top + plot_h - v / ymax * plot_h

    out = [f'<text x="{left}" y="18" font-size="13" font-weight="600">{escape(title)}</text>']
    for v in ticks:
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{py(v):.1f}" y2="{py(v):.1f}" stroke="#e3e3e3"/>'
                   f'<text x="{left - 6}" y="{py(v) + 4:.1f}" font-size="10" text-anchor="end">{v:,.0f}</text>')
    next_year = pd.Timestamp(year=t0.year + 1, month=1, day=1)
    if t0 != pd.Timestamp(year=t0.year, month=1, day=1) and px(next_year) - left > 60:
        out.append(f'<text x="{left}" y="{height - 12}" font-size="11">{t0.year}</text>')  # the partial first year
    for year in range(t0.year, t1.year + 1):
        tick = pd.Timestamp(year=year, month=1, day=1)
        if t0 <= tick <= t1:
            out.append(f'<line x1="{px(tick):.1f}" x2="{px(tick):.1f}" y1="{top}" y2="{top + plot_h}" stroke="#cfcfcf" '
                       f'stroke-dasharray="3,3"/><text x="{px(tick):.1f}" y="{height - 12}" font-size="11" '
                       f'text-anchor="middle">{year}</text>')
    out.append(f'<line x1="{left}" x2="{width - right}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="#777"/>')
    out.append(f'<text transform="translate(13,{top + plot_h / 2:.0f}) rotate(-90)" font-size="10" '
               f'text-anchor="middle">{escape(y_label)}</text>')
    points = " ".join(f"{px(t):.1f},{py(v):.1f}" for t, v in zip(x, y))
    out.append(f'<polyline class="series" points="{points}" fill="none" stroke="#3b4a5a" stroke-width="1.4"/>')
    if markers is not None and len(markers):
        lookup = dict(zip(x, y))
        for m in markers.itertuples(index=False):
            v = lookup.get(pd.Timestamp(m.period_start))
            if v is None:
                continue
            out.append(f'<circle class="alarm" cx="{px(m.period_start):.1f}" cy="{py(v):.1f}" r="4" fill="{m.color}" '
                       f'stroke="#fff" stroke-width="0.8"><title>{escape(m.text)}</title></circle>')
    return (f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
            f'aria-label="{escape(title)}" style="{FONT}">{"".join(out)}</svg>')


def stacked_bar(parts: Sequence[tuple[str, float, str]], width: int = 520, height: int = 26) -> str:
    """Return a horizontal 100% bar: (label, value, color) segments with ``<title>`` tooltips."""
    total = sum(v for _, v, _ in parts) or 1.0
    x, out = 0.0, []
    for label, value, color in parts:
        w = value / total * width
        out.append(f'<rect x="{x:.1f}" y="0" width="{max(w, 0.5):.1f}" height="{height}" fill="{color}">'
                   f'<title>{escape(label)}: {value:,.0f} ({100 * value / total:.2f}%)</title></rect>')
        x += w
    return (f'<svg class="bar" viewBox="0 0 {width} {height}" width="100%">'
            f'{"".join(out)}</svg>')

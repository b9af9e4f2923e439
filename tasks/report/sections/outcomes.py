"""Report section: re-arrest and treatment outcomes among program participants (docs/outcomes.md).

Reads only the outcome marts (suppressed aggregates): per-program matched risk ratios, Kaplan-Meier
points (drawn here as inline SVG step curves, participants vs matched comparison) and the real
TEDS-D benchmark. The SYNTHETIC badge marks every figure the demo arrests feed.
"""
from __future__ import annotations

from html import escape

import pandas as pd

from tasks.report.sections import ReportContext, Section

COLORS = {"participant": "#2b8cbe", "comparison": "#d95f0e"}
WINDOW, CHARGE = 12, "any"
BADGE = '<span class="badge">SYNTHETIC</span>'


def read(wh, ctx: ReportContext) -> dict | None:
    from warehouse.outcome_reads import read_program_outcomes, read_rearrest_survival, read_teds_benchmark

    data = {"programs": read_program_outcomes(wh), "curves": read_rearrest_survival(wh),
            "benchmark": read_teds_benchmark(wh)}
    return None if data["programs"].empty and data["benchmark"].empty else data


def _num(x, fmt: str = "{:.2f}") -> str:
    return "–" if x is None or pd.isna(x) else fmt.format(float(x))


def _rr(row) -> str:
    if pd.isna(row.risk_ratio):
        return "–"
    return f"{row.risk_ratio:.2f} [{_num(row.ci_low)}, {_num(row.ci_high)}]"


def finding(programs: pd.DataFrame, window: int = WINDOW, charge: str = CHARGE) -> str:
    """Return the plain-language finding for one window and charge (computed from the mart)."""
    p = programs[(programs["charge"] == charge) & (programs["window_months"] == window)]
    p = p[p["risk_ratio"].notna()]
    if p.empty:
        return (f"Too few matched participants had {window} months of follow-up to estimate re-arrest for any "
                "program (small counts are suppressed).")
    lower = p[p["ci_high"] < 1]
    higher = p[p["ci_low"] > 1]
    parts = []
    for r in lower.itertuples():
        parts.append(f"participants of {escape(str(r.program_name or r.program_id))} were re-arrested less often "
                     f"within {window} months than matched non-participants (risk ratio {r.risk_ratio:.2f}, "
                     f"95% interval {r.ci_low:.2f}–{r.ci_high:.2f})")
    for r in higher.itertuples():
        parts.append(f"participants of {escape(str(r.program_name or r.program_id))} were re-arrested more often "
                     f"(risk ratio {r.risk_ratio:.2f}, {r.ci_low:.2f}–{r.ci_high:.2f})")
    rest = len(p) - len(lower) - len(higher)
    text = "; ".join(parts) if parts else (
        f"no program's participants differed clearly from matched non-participants in re-arrest within {window} "
        f"months (risk ratios {p['risk_ratio'].min():.2f} to {p['risk_ratio'].max():.2f}, every 95% interval "
        "including 1" + (f", with {int(p['n_sets'].dropna().min())} or more matched participants per program"
                          if p["n_sets"].notna().any() else "") + ")")
    tail = (f"; for {rest} other program{'s' if rest != 1 else ''} the interval includes no difference"
            if parts and rest else "")
    return text[0].upper() + text[1:] + tail + "."


def km_svg(curves: pd.DataFrame, title: str, width: int = 360, height: int = 200, max_day: int = 730) -> str:
    """Return an inline SVG of Kaplan-Meier step curves (one per role) with their 95% bands."""
    left, right, top, bottom = 40, 10, 24, 28
    pw, ph = width - left - right, height - top - bottom
    lo = max(0.0, float(curves["ci_low"].min(skipna=True)) if curves["ci_low"].notna().any() else 0.5)
    y0 = min(0.9, (int(lo * 10) / 10.0))

    def px(d):
        return left + min(float(d), max_day) / max_day * pw

    def py(s):
        return top + (1 - (float(s) - y0) / (1 - y0)) * ph

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">',
           f'<text x="{left}" y="15" font-size="12" font-weight="600">{escape(title)}</text>']
    for v in (y0, (1 + y0) / 2, 1.0):
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{py(v):.1f}" y2="{py(v):.1f}" stroke="#e3e3e3"/>'
                   f'<text x="{left - 4}" y="{py(v) + 4:.1f}" font-size="10" text-anchor="end">{v:.0%}</text>')
    for d in range(0, max_day + 1, 180):
        out.append(f'<text x="{px(d):.1f}" y="{height - 10}" font-size="10" text-anchor="middle">{d}</text>')
    out.append(f'<text x="{width - right}" y="{height - 1}" font-size="10" text-anchor="end">days since first session</text>')
    for role, c in curves.sort_values("day").groupby("role"):
        color = COLORS.get(role, "#555")
        pts, band_hi, band_lo = [], [], []
        prev = None
        for r in c.itertuples():
            if prev is not None:
                pts.append(f"{px(r.day):.1f},{py(prev.survival):.1f}")
                band_hi.append(f"{px(r.day):.1f},{py(_or(prev.ci_high, prev.survival)):.1f}")
                band_lo.append(f"{px(r.day):.1f},{py(_or(prev.ci_low, prev.survival)):.1f}")
            pts.append(f"{px(r.day):.1f},{py(r.survival):.1f}")
            band_hi.append(f"{px(r.day):.1f},{py(_or(r.ci_high, r.survival)):.1f}")
            band_lo.append(f"{px(r.day):.1f},{py(_or(r.ci_low, r.survival)):.1f}")
            prev = r
        out.append(f'<polygon points="{" ".join(band_hi + band_lo[::-1])}" fill="{color}" fill-opacity="0.12"/>')
        out.append(f'<polyline points="{" ".join(pts)}" fill="none" stroke="{color}" stroke-width="2">'
                   f'<title>{escape(role)}</title></polyline>')
    out.append("</svg>")
    return "".join(out)


def _or(v, fallback) -> float:
    return float(fallback) if v is None or pd.isna(v) else float(v)


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def program_table(programs: pd.DataFrame) -> str:
    rows = []
    for pid, g in programs[programs["charge"] == CHARGE].groupby("program_id", sort=True):
        cell = {int(r.window_months): r for r in g.itertuples()}
        any_row = next(iter(cell.values()))
        rows.append([escape(str(any_row.program_name or pid)), _num(any_row.n_participants, "{:,.0f}"),
                     _num(cell[12].n_sets if 12 in cell else None, "{:,.0f}"),
                     _rr(cell[6]) if 6 in cell else "–", _rr(cell[12]) if 12 in cell else "–",
                     _num(any_row.uptake, "{:.0%}"), _num(any_row.completion_rate, "{:.0%}")])
    return _table(["Program", "Participants", "Matched (12 m)", "Re-arrest RR 6 m [95% CI]",
                   "Re-arrest RR 12 m [95% CI]", "Treatment uptake", "Completion"], rows)


def benchmark_table(bench: pd.DataFrame) -> str:
    label = {"criminal_justice": "Criminal justice referral", "other": "Other referral", "unknown": "Unknown",
             "all": "All discharges"}
    rows = [[escape(label.get(r.referral_group, r.referral_group)), _num(r.n_discharges, "{:,.0f}"),
             f"{_num(r.completion_rate, '{:.0%}')} [{_num(r.completion_rate_ci_low, '{:.0%}')}, "
             f"{_num(r.completion_rate_ci_high, '{:.0%}')}]", _num(r.n_arrested_at_admission, "{:,.0f}"),
             f"{_num(r.arrests_reduced_rate, '{:.0%}')} [{_num(r.arrests_reduced_rate_ci_low, '{:.0%}')}, "
             f"{_num(r.arrests_reduced_rate_ci_high, '{:.0%}')}]"] for r in bench.itertuples()]
    return _table(["Referral", "Discharges", "Completed [95% CI]", "Arrested before admission",
                   "Fewer arrests by discharge [95% CI]"], rows)


def render(data: dict, ctx: ReportContext) -> str:
    programs, curves, bench = data["programs"], data["curves"], data["benchmark"]
    synthetic = bool(programs["is_synthetic"].fillna(False).astype(bool).any()) if len(programs) else False
    badge = f" {BADGE}" if synthetic else ""
    out = []
    if len(programs):
        out.append(f"<p><b>Finding</b>{badge}: {finding(programs)}</p>")
        out.append(f"<h3>Re-arrest vs matched non-participants{badge}</h3>" + program_table(programs))
        names = programs.drop_duplicates("program_id").set_index("program_id")["program_name"]
        charts = [km_svg(c, str(names.get(pid) or pid)) for pid, c in
                  curves[curves["charge"] == CHARGE].groupby("program_id", sort=True) if c["role"].nunique() == 2]
        if charts:
            legend = " ".join(f'<span style="color:{col}">&#9632; {role}</span>' for role, col in COLORS.items())
            out.append(f"<h3>Time to re-arrest (Kaplan–Meier, any charge){badge}</h3><p class=\"sub\">{legend}</p>"
                       + "".join(f'<div style="display:inline-block">{c}</div>' for c in charts))
    if len(bench):
        out.append("<h3>National benchmark: TEDS-D discharges (real public-use rows)</h3>" + benchmark_table(bench))
    note = ("Each participant is matched exactly on area, age group, sex and prior-year arrests to up to five "
            "non-participants at their first session; risk ratios compare re-arrest within 6 and 12 months "
            "(intervals clustered by person). Observational: a lower risk is consistent with, not proof of, a "
            "program effect. Counts of 1 to the small-cell threshold are suppressed. Methods: docs/outcomes.md.")
    if synthetic:
        note += (" The arrests are SYNTHETIC (generated from the real arrest counts with a planted effect); "
                 "these figures demonstrate the method, not any real program.")
    return (f'<section class="card" id="outcomes"><h2>Outcomes: re-arrest and treatment{badge}</h2>{"".join(out)}'
            f'<p class="sub">{escape(note)}</p></section>')


SECTION = Section("outcomes", "Outcomes: re-arrest and treatment", read, render)

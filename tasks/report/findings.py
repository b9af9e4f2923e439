"""Headline findings of the report: plain sentences (HTML) computed from the report's aggregates.

Each sentence states a number and, where the data allow, why it looks the way it does. A
sentence whose inputs are missing is left out.
"""
from __future__ import annotations

import json
from html import escape
from typing import TYPE_CHECKING

import pandas as pd

from tasks.trends.impact import HEADLINE, impact_summary

if TYPE_CHECKING:
    from tasks.report.data import ReportData


def findings(data: "ReportData", names: dict[str, str]) -> list[str]:
    """Return the headline sentences (HTML) computed from the data."""
    city = data.monthly[data.monthly["neighborhood_id"].isna()].set_index("period_start")["value"]
    plural = data.ctx().area_label_plural
    episodes = data.alert_episodes()
    synthetic = bool(len(data.programs)) and bool(data.programs["is_synthetic"].fillna(False).astype(bool).any())
    out = [s for s in (_yearly_change(city), _citywide_trend(data.signals, data.metric, plural),
                       _step(city, data.offenses), _admissions(data.signals),
                       _hotspots(data.signals, data.monthly, data.neighborhoods, names, plural),
                       _alarms(episodes, data.signals, data.metric, names), _programs(data.impact, synthetic),
                       _quality(data.quality)) if s]
    if data.signals.empty:
        out.insert(0, "<b>No trend results yet</b>: run the trends flow (pulse trends) after loading incidents.")
    return out


def _yearly_change(city: pd.Series) -> str:
    years = city.groupby(city.index.year).agg(["sum", "count"])
    full = years[years["count"] == 12]["sum"]
    if len(full) < 2:
        return ""
    parts = [f"<b>Drug incidents {_verb(_change(full.iloc[1], full.iloc[0]))} from {full.index[0]} "
             f"({full.iloc[0]:,.0f}) to {full.index[1]} ({full.iloc[1]:,.0f})</b>"]
    parts += [f"{_verb(_change(b, a), short=True)} to {y} ({b:,.0f})" for y, a, b in
              zip(full.index[2:], full.iloc[1:-1], full.iloc[2:])]
    last = city.index.max()
    if last.month != 12:
        cur = city[(city.index.year == last.year)].sum()
        prev = city[(city.index.year == last.year - 1) & (city.index.month <= last.month)].sum()
        if prev:
            parts.append(f"Jan–{last:%b} {last.year} ({cur:,.0f}) is {fmt_pct(cur / prev - 1)} against the same "
                         f"months of {last.year - 1}")
    return "; ".join(parts) + "."


def _citywide_trend(signals: pd.DataFrame, metric: str, plural: str) -> str:
    mk = signals[signals["method"].str.contains("mann_kendall") & (signals["metric"] == metric)]
    city = mk[mk["neighborhood_id"].isna()]
    if city.empty:
        return ""
    c = city.iloc[0]
    areas = mk[mk["neighborhood_id"].notna()]["level"].value_counts()
    return (f"Citywide {'seasonal ' if c['method'].startswith('seasonal') else ''}Mann-Kendall trend: "
            f"<b>{c['level'].replace('_', ' ')}, Sen's slope {fmt_signed(c['score'])} incidents/yr</b> "
            f"(z = {fmt_num(c['statistic'])}, {fmt_p(c['p_value'])}, {pd.Timestamp(c['period_start']):%b %Y}–"
            f"{pd.Timestamp(c['period_end']):%b %Y}). {escape(plural).capitalize()}: {areas.get('decreasing', 0)} decreasing, "
            f"{areas.get('increasing', 0)} increasing, {areas.get('no_trend', 0)} without a significant trend.")


def _admissions(signals: pd.DataFrame) -> str:
    mk = signals[signals["method"].str.contains("mann_kendall") & (signals["metric"] == "admissions")]
    city = mk[mk["neighborhood_id"].isna()]
    if city.empty:
        return ""
    c = city.iloc[0]
    badge = " <span class='badge'>SYNTHETIC</span>" if json.loads(c["details"]).get("synthetic") else ""
    return (f"Treatment admissions{badge}: citywide trend {c['level'].replace('_', ' ')} "
            f"(z = {fmt_num(c['statistic'])}, {fmt_p(c['p_value'])}). Admission counts per area are not shown: "
            "small cells are suppressed in the marts.")


def _step(city: pd.Series, offenses: pd.DataFrame, k: int = 6) -> str:
    """The month with the largest jump between the k-month means before and from it, with the arrest context."""
    if len(city) < 2 * k + 1:
        return ""
    v = city.to_numpy(dtype=float)
    jumps = [(v[i:i + k].mean() - v[i - k:i].mean(), i) for i in range(k, len(v) - k + 1)]
    jump, i = min(jumps, key=lambda j: -abs(j[0]))
    before, after = v[i - k:i].mean(), v[i:i + k].mean()
    drug = offenses[offenses["is_drug_offense"]]
    other = offenses[~offenses["is_drug_offense"]]
    text = (f"The change is concentrated at one point: monthly drug incidents averaged <b>{before:,.0f}</b> in the "
            f"{k} months before {city.index[i]:%b %Y} and <b>{after:,.0f}</b> in the {k} months from it "
            f"({fmt_pct(after / before - 1) if before else 'from none'}).")
    if len(drug) and drug["n"].sum() and len(other) and other["n"].sum():
        arrest = drug["n_arrest"].sum() / drug["n"].sum()
        possession = drug.loc[drug["offense_category"] == "possession", "n"].sum() / drug["n"].sum()
        text += (f" Drug incidents are enforcement records: {100 * arrest:.1f}% of them record an arrest "
                 f"(other incidents: {100 * other['n_arrest'].sum() / other['n'].sum():.0f}%) and "
                 f"{100 * possession:.0f}% are possession, so their counts follow police activity (who is stopped "
                 "and where) as much as drug use; a step of this size points to a change in enforcement.")
    return text


def _hotspots(signals, monthly, neighborhoods, names, plural: str) -> str:
    hs = signals[signals["method"] == "emerging_hotspot"]
    if hs.empty:
        return ""
    hot = hs[hs["level"].str.endswith("hot_spot") & ~hs["level"].str.startswith("historical")]
    cold = hs[hs["level"].str.endswith("cold_spot")]
    areas = monthly[monthly["neighborhood_id"].notna()]
    totals = areas.groupby("neighborhood_id")["value"].sum()
    pop = neighborhoods.set_index("neighborhood_id")["population"]
    ids = hot["neighborhood_id"].tolist()
    listing = ", ".join(f"{escape(names.get(r.neighborhood_id, r.neighborhood_id))} "
                        f"({r.level.replace('_hot_spot', '')})" for r in hot.sort_values("score", ascending=False)
                        .itertuples())
    share = totals.reindex(ids).sum() / totals.sum() if totals.sum() else 0
    pop_share = pop.reindex(ids).sum() / pop.sum() if pop.sum() else 0
    n_months = max(areas["period_start"].nunique(), 1)
    text = (f"<b>{len(hot)} of {len(hs)} {escape(plural)} are hot spots</b> of drug incidents in the final month: "
            f"{listing}. They hold {100 * share:.0f}% of the incidents with {100 * pop_share:.0f}% "
            f"of the population. ")
    if cold.empty and len(totals):
        text += (f"There are no cold spots because counts are skewed (median area {totals.median() / n_months:.0f} "
                 f"a month, busiest {totals.max() / n_months:.0f}): a low count cannot fall far "
                 "enough below a mean that a few areas pull up.")
    else:
        text += f"{len(cold)} cold spot(s)."
    return text


def _alarms(episodes: pd.DataFrame, signals: pd.DataFrame, metric: str, names: dict[str, str]) -> str:
    """Alert episodes of the headline detectors (the decision), beside the reference detectors' episodes and rows."""
    eps = episodes[episodes["metric"] == metric] if len(episodes) else episodes
    if eps.empty:
        return "No detector raised an alert episode."
    head = eps[eps["is_headline"].astype(bool)]
    ref = eps[~eps["is_headline"].astype(bool)]
    areas = head[head["neighborhood_id"].notna() & (head["kind"] == "spike")]
    by_area = areas.groupby("neighborhood_id").size().sort_values(ascending=False)
    top = ", ".join(f"{escape(names.get(i, i))} ({n})" for i, n in by_area.head(3).items())
    text = (f"<b>{len(head):,} alert episodes</b> from the headline detectors "
            f"({int(head['is_ongoing'].astype(bool).sum())} open now)" + (f"; most in {top}" if top else "") + ".")
    if len(ref):
        from tasks.trends.registry import alarm_mask

        rows = signals[(signals["metric"] == metric) & signals["method"].isin(
            [o for m in sorted(set(ref["method"])) for o in _outputs(m)])]
        n_rows = int(alarm_mask(rows).sum()) if len(rows) else 0
        text += (f" The reference detector{'s' if ref['method'].nunique() > 1 else ''} "
                 f"({', '.join(sorted(set(ref['method'])))}) gave {len(ref):,} episodes from {n_rows:,} alarm rows; "
                 "an episode merges the rules and consecutive periods of one series.")
    city = head[head["neighborhood_id"].isna() & (head["grain"] == "week")]
    if len(city):
        big = city.loc[(city["peak_observed"] - city["peak_expected"]).idxmax()]
        text += (f" Largest citywide weekly episode: peak week of {pd.Timestamp(big['peak_period']):%d %b %Y}, "
                 f"{big['peak_observed']:,.0f} incidents against {big['peak_expected']:,.0f} expected.")
    return text


def _outputs(name: str) -> tuple[str, ...]:
    from tasks.trends.registry import method

    return method(name).outputs


def _programs(impact: pd.DataFrame, synthetic: bool) -> str:
    heads = impact[impact["method"] == HEADLINE] if len(impact) else impact
    if heads.empty:
        return ""
    return "Program impact (one headline estimate per program): " + escape(impact_summary(heads, synthetic=synthetic))


def _quality(q: dict[str, pd.DataFrame]) -> str:
    b, p = q["batches"], q["precision"]
    if b.empty or p.empty:
        return ""
    inc = b[b["entity"] == "incidents"]
    read, quarantined = inc["rows_read"].sum(), inc["rows_quarantined"].sum()
    point = p.loc[p["geocode_precision"] == "point", "n_incidents"].sum() / p["n_incidents"].sum()
    reasons = q["quarantine"][q["quarantine"]["entity"] == "incidents"].sort_values("n_rows", ascending=False)
    why = f" (top reason: {escape(reasons.iloc[0]['reason'])})" if len(reasons) else ""
    return (f"Data quality: {read:,} incident rows read, {quarantined:,} quarantined "
            f"({100 * quarantined / max(read, 1):.2f}%){why}; {100 * point:.1f}% of loaded incidents placed by "
            "their own coordinates.")


def _verb(change: float | None, short: bool = False) -> str:
    """'rose 12%' / 'fell 3%'; a change from zero (``None``) has no percentage."""
    if change is None:
        return f"{'then ' if short else ''}changed from none"
    word = "fell" if change < 0 else "rose"
    return f"{'then ' if short else ''}{word} {abs(100 * change):.0f}%"


def _change(new: float, old: float) -> float | None:
    """Relative change new/old − 1, or None when ``old`` is zero (a city or year with no incidents)."""
    return None if not old else new / old - 1


def fmt_pct(x: float) -> str:
    return f"{'−' if x < 0 else '+'}{abs(100 * x):.0f}%"


def fmt_num(x: float) -> str:
    return f"{x:.2f}".replace("-", "−")


def fmt_signed(x: float) -> str:
    return f"{'−' if x < 0 else '+'}{abs(x):,.0f}"


def fmt_p(p: float) -> str:
    return "p &lt; 0.001" if p < 0.001 else "p &lt; 0.01" if p < 0.01 else f"p = {p:.2f}"

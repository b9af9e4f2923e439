"""Report section: opioid-related deaths (Cook County Medical Examiner) beside the police data.

A map of deaths per 10,000 residents per year over the certified months before the provisional
window, the citywide monthly series with the provisional window shaded (and the overdose alert
episodes of ``trend_signals``, when the trends flow wrote any), and drug arrests against deaths
per area over the months both sources cover. Deaths are counts of people: an area's count in
1..threshold is not shown (grey on the map, left out of the scatter).
"""
from __future__ import annotations

from dataclasses import dataclass
from html import escape

import numpy as np
import pandas as pd

from tasks.outcomes.suppression import suppress_small_cells
from tasks.report.sections import ReportContext, Section
from tasks.report.sections.health_charts import shaded_series, scatter
from tasks.report.svg import choropleth, project_shapes

THRESHOLD = 10  # Settings.small_cell_threshold's default: area counts in 1..10 are not shown
MAP_MONTHS = 36
COLORS = ("#fef0d9", "#fdcc8a", "#fc8d59", "#e34a33", "#b30000")
SUPPRESSED_FILL = "#d9d9d9"
METRIC = "overdose_deaths"
SOURCE = ("Cook County Medical Examiner case archive (ArcGIS Hub export of 2023-08, opioid-related "
          "cases; the 2018 portal export for the revision history), local date of death")


@dataclass(frozen=True)
class OverdoseData:
    months: pd.DataFrame  # neighborhood_id, month_start, n_deaths (unsuppressed: suppressed in render)
    first_day: pd.Timestamp
    last_day: pd.Timestamp
    provisional_from: pd.Timestamp | None
    arrests: pd.DataFrame  # neighborhood_id, n_drug_arrests over arrest_window
    arrest_window: tuple[pd.Timestamp, pd.Timestamp] | None
    episodes: pd.DataFrame  # period_start, period_end, level of citywide overdose alerts
    threshold: int = THRESHOLD


def read(wh, ctx: ReportContext) -> OverdoseData | None:
    from warehouse.health_reads import read_drug_arrests_by_area, read_incident_days, read_overdose_months
    from warehouse.reads import read_table

    months, span = read_overdose_months(wh)
    if span is None or months.empty:
        return None
    police = read_incident_days(wh)
    window = None
    arrests = pd.DataFrame(columns=["neighborhood_id", "n_drug_arrests"])
    if police is not None:
        lo, hi = max(police[0], span.first_day), min(police[1], span.last_day)
        if lo <= hi:
            window = (lo, hi)
            arrests = read_drug_arrests_by_area(wh, lo, hi)
    signals = read_table(wh, "trend_signals")
    episodes = signals[(signals["metric"] == METRIC) & signals["neighborhood_id"].isna()
                       & ~signals["method"].str.contains("mann_kendall|hotspot", regex=True)] if len(signals) else signals
    return OverdoseData(months, span.first_day, span.last_day, span.provisional_from, arrests, window,
                        episodes.reindex(columns=["period_start", "period_end", "method", "level"]))


def citywide(data: OverdoseData) -> pd.DataFrame:
    """Deaths per month in all areas, every month of the coverage (0 where none)."""
    full = pd.date_range(data.first_day.to_period("M").start_time, data.last_day.to_period("M").start_time, freq="MS")
    n = data.months.groupby("month_start")["n_deaths"].sum().reindex(full, fill_value=0)
    return pd.DataFrame({"month_start": full, "n_deaths": n.to_numpy()})


def map_window(data: OverdoseData, n_months: int = MAP_MONTHS) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The last ``n_months`` certified months: before the provisional window (or up to the last month)."""
    end = (data.provisional_from - pd.DateOffset(months=1)) if data.provisional_from is not None \
        else data.last_day.to_period("M").start_time
    start = max(end - pd.DateOffset(months=n_months - 1), data.first_day.to_period("M").start_time)
    return pd.Timestamp(start), pd.Timestamp(end)


def area_rates(data: OverdoseData, ctx: ReportContext) -> pd.DataFrame:
    """Per area over the map window: deaths, deaths per 10,000 per year, small counts suppressed."""
    start, end = map_window(data)
    years = ((end.to_period("M") - start.to_period("M")).n + 1) / 12
    inside = data.months[(data.months["month_start"] >= start) & (data.months["month_start"] <= end)]
    n = inside.groupby("neighborhood_id")["n_deaths"].sum()
    pop = ctx.neighborhoods.set_index("neighborhood_id")["population"]
    frame = pd.DataFrame({"neighborhood_id": pop.index.astype(str)})
    frame["n_deaths"] = frame["neighborhood_id"].map(n).fillna(0).astype("int64")
    frame["rate"] = frame["n_deaths"] / frame["neighborhood_id"].map(pop).replace(0, np.nan) * 10_000 / years
    return suppress_small_cells(frame, ["n_deaths"], data.threshold, dependents={"n_deaths": ["rate"]})


def _map(data: OverdoseData, ctx: ReportContext) -> str:
    rates, names = area_rates(data, ctx), ctx.names
    shown = rates.dropna(subset=["rate"])
    edges = np.unique(np.quantile(shown["rate"], np.linspace(0, 1, len(COLORS) + 1))) if len(shown) else np.array([0, 1])
    klass = np.clip(np.searchsorted(edges, shown["rate"].to_numpy(), side="right") - 1, 0, len(edges) - 2)
    fills = {i: COLORS[k] for i, k in zip(shown["neighborhood_id"], klass)}
    titles = {}
    for r in rates.itertuples(index=False):
        nm = names.get(r.neighborhood_id, r.neighborhood_id)
        titles[r.neighborhood_id] = (f"{nm}: 1-{data.threshold} deaths (not shown)" if r.is_suppressed
                                     else f"{nm}: {r.rate:,.2f} per 10,000 per year ({r.n_deaths:,} deaths)"
                                     if pd.notna(r.rate) else f"{nm}: {r.n_deaths:,} deaths, no population")
    fills.update({r.neighborhood_id: SUPPRESSED_FILL for r in rates.itertuples(index=False) if r.is_suppressed})
    legend = [(COLORS[k], f"{edges[k]:,.1f} – {edges[k + 1]:,.1f}") for k in range(len(edges) - 1)]
    legend.append((SUPPRESSED_FILL, f"1-{data.threshold} deaths"))
    shapes = project_shapes(ctx.neighborhoods, ctx.projected_crs)
    return choropleth(shapes, fills, titles, legend, "opioid-related deaths per 10,000 residents")


def _series(data: OverdoseData) -> str:
    city = citywide(data)
    shown = city["n_deaths"].where(~city["n_deaths"].between(1, data.threshold))
    return shaded_series(city["month_start"], shown, title="Opioid-related deaths per month, citywide",
                         y_label="deaths", shade_from=data.provisional_from,
                         shade_label="provisional (still being certified)")


def area_quarters(data: OverdoseData, k: int = 6) -> pd.DataFrame:
    """Quarterly deaths of the ``k`` areas with the most deaths (neighborhood_id, quarter_start, n_deaths;
    every quarter of the coverage, small counts suppressed to null)."""
    top = data.months.groupby("neighborhood_id")["n_deaths"].sum().sort_values(ascending=False).head(k).index
    quarters = pd.date_range(data.first_day.to_period("Q").start_time, data.last_day.to_period("Q").start_time,
                             freq="QS")
    sub = data.months[data.months["neighborhood_id"].isin(top)].assign(
        quarter_start=lambda f: f["month_start"].dt.to_period("Q").dt.start_time)
    n = sub.groupby(["neighborhood_id", "quarter_start"])["n_deaths"].sum()
    grid = pd.MultiIndex.from_product([list(top), quarters], names=["neighborhood_id", "quarter_start"])
    out = n.reindex(grid, fill_value=0).rename("n_deaths").reset_index()
    return suppress_small_cells(out, ["n_deaths"], data.threshold)


def _area_series(data: OverdoseData, ctx: ReportContext) -> str:
    frame = area_quarters(data)
    charts = [shaded_series(g["quarter_start"], g["n_deaths"].astype("float64"),
                            title=f"{ctx.names.get(nid, nid)}: deaths per quarter", y_label="deaths",
                            shade_from=data.provisional_from, shade_label="provisional", height=170)
              for nid, g in frame.groupby("neighborhood_id", sort=False)]
    return (f"<h3>The {len(charts)} {escape(ctx.area_label_plural)} with the most deaths, per quarter</h3>"
            f"<div class='small-multiples grid2'>{''.join(charts)}</div>") if charts else ""


def arrests_vs_deaths(data: OverdoseData, ctx: ReportContext) -> pd.DataFrame:
    """Per area over the months both sources cover: drug arrests, deaths (small counts suppressed), rates."""
    lo, hi = data.arrest_window
    inside = data.months[(data.months["month_start"] >= lo.to_period("M").start_time) & (data.months["month_start"] <= hi)]
    pop = ctx.neighborhoods.set_index("neighborhood_id")["population"]
    frame = pd.DataFrame({"neighborhood_id": pop.index.astype(str)})
    frame["n_deaths"] = frame["neighborhood_id"].map(inside.groupby("neighborhood_id")["n_deaths"].sum()).fillna(0)
    frame["n_drug_arrests"] = frame["neighborhood_id"].map(
        data.arrests.set_index("neighborhood_id")["n_drug_arrests"]).fillna(0).astype("int64")
    per10k = frame["neighborhood_id"].map(pop).replace(0, np.nan) / 10_000
    frame["deaths_per_10k"] = frame["n_deaths"] / per10k
    frame["arrests_per_10k"] = frame["n_drug_arrests"] / per10k
    frame["label"] = [f"{ctx.names.get(i, i)}: {a:,} drug arrests, " for i, a in
                      zip(frame["neighborhood_id"], frame["n_drug_arrests"])]
    out = suppress_small_cells(frame, ["n_deaths"], data.threshold, dependents={"n_deaths": ["deaths_per_10k"]})
    out["label"] = out["label"] + out["n_deaths"].map(
        lambda v: f"1-{data.threshold} deaths (not shown)" if pd.isna(v) else f"{int(v):,} deaths")
    return out


def _arrests_panel(data: OverdoseData, ctx: ReportContext) -> str:
    if data.arrest_window is None:
        return "<p class='note'>No police drug incidents overlap the examiner's coverage: nothing to compare.</p>"
    frame = arrests_vs_deaths(data, ctx)
    lo, hi = data.arrest_window
    shown = frame.dropna(subset=["deaths_per_10k"])
    rho = shown["arrests_per_10k"].corr(shown["deaths_per_10k"], method="spearman") if len(shown) > 2 else float("nan")
    chart = scatter(frame, "arrests_per_10k", "deaths_per_10k", "label",
                    title=f"Drug arrests vs opioid-related deaths per area, {lo:%b %Y}–{hi:%b %Y}",
                    x_label="drug arrests per 10,000 residents", y_label="deaths per 10,000 residents")
    note = (f"{len(shown)} of {len(frame)} {ctx.area_label_plural} shown (the others had 1-{data.threshold} deaths). "
            + (f"Spearman rank correlation {rho:.2f}. " if pd.notna(rho) else "")
            + "Arrests measure enforcement, deaths measure harm: a high-arrest area with few deaths, or the "
              "reverse, is a question for the programs, not a finding about them.")
    return chart + f"<p class='note'>{escape(note)}</p>"


def render(data: OverdoseData, ctx: ReportContext) -> str:
    start, end = map_window(data)
    prov = (f"Months from {data.provisional_from:%b %Y} on are provisional: deaths are certified late (the "
            "2018 export flagged 369 opioid deaths for 2018-01..06 where the 2023 export holds 562), so those "
            "counts will rise; they are shaded and kept out of detector baselines."
            if data.provisional_from is not None else "No month is provisional.")
    n_ep = len(data.episodes)
    alerts = (f"{n_ep} citywide overdose alert period(s) in trend_signals (metric {METRIC})." if n_ep
              else f"No citywide overdose alerts in trend_signals (metric {METRIC}) yet.")
    caveats = (f"Source: {SOURCE}. Deaths placed in a {ctx.area_label} by coordinates, the examiner's own area "
               "name, the street (offline geocoder) or the ZIP; deaths outside the city are not counted. "
               f"{prov} {alerts} Counts of 1-{data.threshold} deaths per {ctx.area_label} (or per quarter) are not "
               "shown: the series break there.")
    return (f"<section class='card' id='overdoses'><h2>{escape(SECTION.title)}</h2>"
            f"<div class='grid2'><div><h3>Deaths per 10,000 residents per year, {start:%b %Y}–{end:%b %Y}</h3>"
            f"{_map(data, ctx)}</div><div>{_arrests_panel(data, ctx)}</div></div>"
            f"{_series(data)}{_area_series(data, ctx)}<p class='note'>{escape(caveats)}</p></section>")


SECTION = Section("overdoses", "Opioid-related deaths", read, render)

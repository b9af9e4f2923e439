"""The panel every program-impact estimator reads: one metric's counts as a month x area matrix.

Built once from ``TrendInputs`` (``impact_panel``): the counts, the programs placed on it (first
post-program period, which programs share an area), the areas that cannot serve as comparisons
(every program area and, when boundaries are given, the areas touching one: spillover), and the
comparison pool. Also the row builders shared by the estimators, so every method writes
``PROGRAM_IMPACT_COLUMNS`` the same way.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from schemas.errors import InputError
from schemas.trend_results import PROGRAM_IMPACT_COLUMNS
from tasks.trends.series import details_json
from tasks.trends.registry import TrendInputs

FREQ = {"month": "MS", "week": "W-MON"}
# Defaults every estimator reads from ``TrendInputs.params`` (same keys there override them).
DEFAULTS: Mapping[str, Any] = {
    "alpha": 0.05,
    "min_pre": 12,  # periods before the start
    "min_post": 6,  # periods from the start
    "min_events": 10,  # events in the program area before and after: fewer and we cannot tell
    "spillover": "adjacent",  # areas touching a program area are no comparison ("none": keep them)
    "min_donor_mean": 1.0,  # events per period a synthetic-control donor needs to be indexed
    "seed": 20160101,
    "program_ids": None,  # estimate only these programs (the others still shape the comparison pool)
    "methods": None,  # run only these impact methods (default: every registered one)
}
_NEIGHBOURS: dict[int, tuple[pd.DataFrame, dict]] = {}
_PANELS: dict[tuple[int, str], tuple[TrendInputs, "ImpactPanel"]] = {}


@dataclass(frozen=True)
class ImpactPanel:
    """Counts (``counts[t, j]``: period t, area ``areas[j]``), the programs on them and the comparison pool.

    ``programs``: program_id, neighborhood_id, started_on, start (first post period), k (its row
    index in ``periods``; -1 outside), earlier (ids of programs that started before it in the same
    area), area_first_k (the area's first start index). ``pool``: areas that are neither program
    areas nor (with boundaries) adjacent to one, in ``areas`` order.
    """

    metric: str
    grain: str
    periods: pd.DatetimeIndex
    areas: tuple[str, ...]
    counts: np.ndarray
    programs: pd.DataFrame
    treated: frozenset[str]
    spillover: frozenset[str]
    pool: tuple[str, ...]
    params: Mapping[str, Any]

    def column(self, area: str) -> np.ndarray:
        return self.counts[:, self.areas.index(area)]

    def matrix(self, areas) -> np.ndarray:
        index = {a: j for j, a in enumerate(self.areas)}
        return self.counts[:, [index[a] for a in areas]]


def impact_panel(inputs: TrendInputs, grain: str = "month") -> ImpactPanel:
    """Return the ImpactPanel of ``inputs`` at ``grain`` (absent periods are zero counts).

    Cached for the last few inputs objects, so the estimators of one run share one panel
    (TrendInputs is frozen; its frames are not to be mutated after it is built).
    """
    hit = _PANELS.get((id(inputs), grain))
    if hit is not None and hit[0] is inputs:
        return hit[1]
    panel = _build_panel(inputs, grain)
    if len(_PANELS) > 4:
        _PANELS.clear()
    _PANELS[(id(inputs), grain)] = (inputs, panel)
    return panel


def _build_panel(inputs: TrendInputs, grain: str) -> ImpactPanel:
    if grain not in FREQ:
        raise InputError("impact_panel", f"grain {grain!r} is not supported", f"Use one of {sorted(FREQ)}")
    params = {**DEFAULTS, **dict(inputs.params)}
    wide = wide_counts(inputs.series[grain], FREQ[grain], inputs.neighborhoods["neighborhood_id"],
                       where=f"{inputs.metric} {grain} series")
    ids = list(wide.columns)
    periods = pd.DatetimeIndex(wide.index)
    programs = _place_programs(inputs.programs, periods, grain)
    # Areas with a program started by the end of the series are treated; later starts still compare.
    treated = frozenset(programs.loc[programs["start"] <= periods.max(), "neighborhood_id"].dropna())
    spill = frozenset()
    if params["spillover"] == "adjacent" and "geometry_wkt" in inputs.neighborhoods:
        touching = neighbour_map(inputs.neighborhoods)
        spill = frozenset(b for a in treated for b in touching.get(a, ())) - treated
    pool = tuple(a for a in ids if a not in treated and a not in spill)
    return ImpactPanel(inputs.metric, grain, periods, tuple(ids), wide.to_numpy(dtype=float), programs,
                       treated, spill, pool, params)


def wide_counts(series: pd.DataFrame, freq: str, neighborhood_ids, *, where: str) -> pd.DataFrame:
    """Return area counts as a (period x neighborhood) frame over the full calendar, absent periods = 0.

    Citywide (null id) rows are ignored; every id in ``neighborhood_ids`` gets a column. Raises
    InputError naming the first bad row: missing column, null period or value, negative value,
    duplicate (neighborhood, period), or a period that is not a ``freq`` period start.
    """
    missing = [c for c in ("neighborhood_id", "period_start", "value") if c not in series.columns]
    if missing:
        raise InputError(where, f"missing column(s) {', '.join(missing)}",
                         "Pass a long frame with neighborhood_id, period_start, value")
    frame = series.loc[series["neighborhood_id"].notna(), ["neighborhood_id", "period_start", "value"]]
    frame = frame.assign(neighborhood_id=frame["neighborhood_id"].astype(str),
                         period_start=pd.to_datetime(frame["period_start"]),
                         value=pd.to_numeric(frame["value"], errors="coerce"))
    checks = (("period_start is null", frame["period_start"].isna()),
              ("value is null or not a number", frame["value"].isna()), ("value is negative", frame["value"] < 0),
              ("duplicate (neighborhood_id, period_start)", frame.duplicated(["neighborhood_id", "period_start"])))
    for label, mask in checks:
        if mask.any():
            raise InputError(f"{where} row {frame.index[mask.to_numpy()][0]}", label,
                             "Aggregate to one non-negative count per neighborhood and period")
    if frame.empty:
        raise InputError(where, "has no neighborhood rows", "Pass counts per neighborhood and period")
    calendar = pd.date_range(frame["period_start"].min(), frame["period_start"].max(), freq=freq)
    off = ~frame["period_start"].isin(calendar)
    if off.any():
        row = frame.index[off.to_numpy()][0]
        raise InputError(f"{where} row {row}", f"period_start {frame.at[row, 'period_start']:%Y-%m-%d} is not a "
                         f"{freq!r} period start", f"Aggregate to {freq!r} periods first")
    ids = sorted({str(i) for i in neighborhood_ids} | set(frame["neighborhood_id"]), key=_id_key)
    return (frame.pivot(index="period_start", columns="neighborhood_id", values="value")
            .reindex(index=calendar, columns=ids).fillna(0.0))


def neighbour_map(neighborhoods: pd.DataFrame) -> dict[str, frozenset[str]]:
    """Return each neighborhood's touching neighbours (cached per frame: parsing boundaries is slow)."""
    from shapely import STRtree, from_wkt

    key = id(neighborhoods)
    hit = _NEIGHBOURS.get(key)
    if hit is None or hit[0] is not neighborhoods:
        frame = neighborhoods.dropna(subset=["geometry_wkt"])
        names = frame["neighborhood_id"].astype(str).to_numpy()
        geoms = from_wkt(frame["geometry_wkt"].to_numpy())
        # 1e-5 degrees ~ 1 m: shared borders digitised twice do not always touch exactly.
        left, right = STRtree(geoms).query([g.buffer(1e-5) for g in geoms], predicate="intersects")
        table: dict[str, set[str]] = {str(n): set() for n in names}
        for i, j in zip(left, right):
            if i != j:
                table[str(names[i])].add(str(names[j]))
        if len(_NEIGHBOURS) > 8:
            _NEIGHBOURS.clear()
        hit = (neighborhoods, {k: frozenset(v) for k, v in table.items()})
        _NEIGHBOURS[key] = hit  # the frame is kept alive so its id cannot be reused by another
    return hit[1]


def adjacent_areas(neighborhoods: pd.DataFrame, ids) -> set[str]:
    """Return ``ids`` and the ids of every neighborhood touching (within ~1 m) one of them."""
    touching = neighbour_map(neighborhoods)
    ids = {str(i) for i in ids}
    return ids | {b for a in ids for b in touching.get(a, ())}


def programs_to_estimate(panel: ImpactPanel) -> pd.DataFrame:
    """Return the panel's programs that the caller asked for (``params['program_ids']``, default all)."""
    wanted = panel.params.get("program_ids")
    if wanted is None:
        return panel.programs
    return panel.programs[panel.programs["program_id"].isin(list(wanted))]


def thin_reason(panel: ImpactPanel, program) -> str | None:
    """Return why ``program`` cannot be estimated on this panel (None when it can)."""
    p = panel.params
    if program.neighborhood_id is None or pd.isna(program.neighborhood_id):
        return "a citywide program has no comparison areas"
    if program.neighborhood_id not in panel.areas:
        return f"neighborhood {program.neighborhood_id} is not in the {panel.metric} series"
    n = len(panel.periods)
    if program.k < p["min_pre"] or n - program.k < p["min_post"]:
        before = min(max(program.k, 0), n)  # k is -1 for a start before the series, n + 1 after it
        after = n - before
        return (f"{before} {panel.grain}s of data before the start and {after} from it; "
                f"needs at least {p['min_pre']} and {p['min_post']}")
    y = panel.column(program.neighborhood_id)
    pre, post = y[: program.k].sum(), y[program.k:].sum()
    if min(pre, post) < p["min_events"]:
        return (f"too few events to tell: {pre:.0f} before and {post:.0f} after the start in the area "
                f"(needs {p['min_events']} each)")
    return None


def impact_row(program, method: str, *, estimate=np.nan, ci_low=np.nan, ci_high=np.nan, p_value=np.nan,
               n_pre=None, n_post=None, details: Mapping[str, Any]) -> dict:
    """Return one PROGRAM_IMPACT_COLUMNS row for ``program`` (a row of ImpactPanel.programs)."""
    return {"program_id": program.program_id, "neighborhood_id": program.neighborhood_id,
            "started_on": pd.Timestamp(program.started_on), "method": method, "estimate": float(estimate),
            "ci_low": float(ci_low), "ci_high": float(ci_high), "p_value": float(p_value),
            "n_pre": n_pre, "n_post": n_post, "details": details_json(details)}


def skipped_row(panel: ImpactPanel, program, method: str, reason: str, **extra) -> dict:
    """Return the row of a program ``method`` could not estimate, the reason in ``details.skipped``."""
    return impact_row(program, method, details={"metric": panel.metric, "grain": panel.grain,
                                                "cannot_tell": True, "skipped": reason, **extra})


def impact_frame(rows: list[dict]) -> pd.DataFrame:
    """Return ``rows`` as a PROGRAM_IMPACT_COLUMNS frame with the table's dtypes."""
    frame = pd.DataFrame(rows, columns=PROGRAM_IMPACT_COLUMNS)
    frame["neighborhood_id"] = frame["neighborhood_id"].astype("object").where(frame["neighborhood_id"].notna(), None)
    frame["started_on"] = pd.to_datetime(frame["started_on"])
    for col in ("estimate", "ci_low", "ci_high", "p_value"):
        frame[col] = frame[col].astype(float)
    for col in ("n_pre", "n_post"):
        frame[col] = frame[col].astype("Int64")
    return frame


def _place_programs(programs: pd.DataFrame | None, periods: pd.DatetimeIndex, grain: str) -> pd.DataFrame:
    cols = ["program_id", "neighborhood_id", "started_on", "start", "k", "earlier", "area_first_k"]
    if programs is None or programs.empty:
        return pd.DataFrame(columns=cols)
    for col in ("program_id", "neighborhood_id", "started_on"):
        if col not in programs.columns:
            raise InputError("programs", f"missing column {col}", "Pass program_id, neighborhood_id, started_on")
    out = programs[["program_id", "neighborhood_id", "started_on"]].copy()
    out["neighborhood_id"] = [None if pd.isna(a) else str(a) for a in out["neighborhood_id"]]
    out["started_on"] = pd.to_datetime(out["started_on"])
    if out["started_on"].isna().any():
        bad = out.loc[out["started_on"].isna(), "program_id"].tolist()
        raise InputError("programs", f"no start date for {bad}", "Give every program a started_on date")
    # The period containing the start day is the first post-program period.
    out["start"] = (out["started_on"].dt.to_period("M").dt.to_timestamp() if grain == "month"
                    else out["started_on"].dt.normalize() - pd.to_timedelta(out["started_on"].dt.weekday, unit="D"))
    pos = periods.get_indexer(out["start"])
    out["k"] = pos
    out.loc[(pos < 0) & (out["start"] > periods.max()), "k"] = len(periods) + 1  # after the series: no post period
    out = out.sort_values(["started_on", "program_id"], kind="stable").reset_index(drop=True)
    seen: dict[str, list[str]] = {}
    earlier = []
    for pid, area in zip(out["program_id"], out["neighborhood_id"]):
        earlier.append(list(seen.get(area, [])) if area is not None else [])
        if area is not None:
            seen.setdefault(area, []).append(pid)
    out["earlier"] = earlier
    first = out[out["k"] >= 0].groupby("neighborhood_id")["k"].min()
    out["area_first_k"] = out["neighborhood_id"].map(first).fillna(-1).astype(int)
    return out[cols]


def _id_key(i: str) -> tuple:
    return (0, int(i), "") if str(i).isdigit() else (1, 0, str(i))

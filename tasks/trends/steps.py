"""The trends flow's steps as pure functions: run one registered method, collect its rows, build the
alert episodes, pick the new alerts and word the artifacts. ``flows/trends.py`` only wires them.

Every count the run reports (artifacts, events, the log) is of alert EPISODES
(``tasks.trends.episodes``), never of trend_signals rows: EARS C1/C2/C3 on the same days are one
alert, and a day/week alarm that lasts five days is one alert.
"""
from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd

from schemas.errors import InputError
from schemas.trend_results import ALERT_EPISODE_TABLE_COLUMNS, PROGRAM_IMPACT_COLUMNS
from tasks.trends.episodes import EPISODE_COLUMNS, alert_episodes, count_decisions
from tasks.trends.impact import headline_rows, impact_summary
from tasks.trends.prepare import Metric, combine_signals, metric_methods, tag_impact, tag_signals, COUNT_DETAIL_KEYS
from tasks.trends.registry import TrendInputs, method

ALERT_WINDOW_DAYS = 7  # an episode ending this close to the last day of data is news


def run_method(name: str, inputs: TrendInputs, grain: str, computed_at, metric: Metric,
               synthetic: bool = False) -> tuple[pd.DataFrame | None, str | None]:
    """Run registered method ``name`` on ``inputs`` at ``grain``; returns (tagged rows, None) or (None, reason).

    Spike/trend/cluster rows come back as trend_signals table rows (grain, computed_at; for
    synthetic inputs ``synthetic`` in details; for counts of people no count-revealing detail);
    impact rows as they are (``impact_rows`` tags them). An input too short or empty for the
    method is a reason, not an error.
    """
    m = method(name)
    series = inputs.series.get(grain)
    if series is None or series.empty:
        return None, "no complete " + grain + " in the data"
    if m.kind == "impact" and (inputs.programs is None or inputs.programs.empty):
        return None, "no program to estimate"
    try:
        rows = m.run(inputs, grain)
    except InputError as exc:
        return None, str(exc)
    if m.kind == "impact":
        return rows, None
    tags = {"synthetic": True} if synthetic else {}
    return tag_signals(rows, grain, computed_at, drop=COUNT_DETAIL_KEYS if metric.people else (), **tags), None


def signal_rows(parts: list[pd.DataFrame | None]) -> pd.DataFrame:
    """Return the spike/trend/cluster rows of one run as one trend_signals frame."""
    return combine_signals(parts)


def impact_rows(metric: str, parts: Mapping[str, pd.DataFrame | None], skipped: pd.DataFrame,
                inputs: TrendInputs, computed_at) -> pd.DataFrame:
    """Return program_impact table rows: each impact method's rows, one ``headline`` row per program
    (the first calibrated method, Benjamini-Hochberg q across programs, a sentence) and the
    ``not_estimated`` rows of programs that could not be estimated."""
    ran = [p for p in parts.values() if p is not None and len(p)]
    rows = pd.concat(ran, ignore_index=True) if ran else skipped.iloc[0:0]
    estimators = [method(n) for n in parts if parts[n] is not None]
    names = dict(zip(inputs.neighborhoods["neighborhood_id"].astype(str), inputs.neighborhoods.get("name", [])))
    alpha = float(dict(inputs.params).get("alpha", 0.05))
    head = headline_rows(rows, estimators, names=names, metric=metric, alpha=alpha) if len(rows) else rows.iloc[0:0]
    return tag_impact([rows, head, skipped], metric, computed_at)


def impact_table(parts: list[pd.DataFrame], computed_at) -> pd.DataFrame:
    """Return the program_impact rows of every metric as one frame (an empty table frame if none ran)."""
    frames = [p for p in parts if len(p)]
    if frames:
        return pd.concat(frames, ignore_index=True)
    empty = pd.DataFrame({c: pd.Series(dtype=object) for c in PROGRAM_IMPACT_COLUMNS})
    return tag_impact([empty], "", computed_at).iloc[0:0]


def impact_counts(impact: pd.DataFrame) -> dict[str, int]:
    """Return programs with a headline estimate and programs not estimated (for the flow's summary)."""
    if impact.empty:
        return {"n_programs_estimated": 0, "n_programs_skipped": 0}
    head = impact[(impact["method"] == "headline") & impact["estimate"].notna()]
    return {"n_programs_estimated": int(head["program_id"].nunique()),
            "n_programs_skipped": int((impact["method"] == "not_estimated").sum())}


def is_impact(name: str) -> bool:
    return method(name).kind == "impact"


def any_synthetic(programs: pd.DataFrame) -> bool:
    return bool(len(programs)) and bool(programs["is_synthetic"].fillna(False).astype(bool).any())


def decision_counts(episodes: pd.DataFrame) -> list[dict]:
    """Return headline episodes per (metric, grain, kind) as records with ``n_episodes``."""
    return count_decisions(episodes).to_dict("records") if len(episodes) else []


def episode_rows(signals: pd.DataFrame, last_ends: Mapping[str, Mapping[str, pd.Timestamp]],
                 computed_at) -> pd.DataFrame:
    """Return the alert_episodes table rows: ``alert_episodes`` per (metric, grain) of ``signals``.

    ``last_ends[metric][grain]``: the last day of that series, so an episode reaching it is ongoing.
    """
    parts = []
    if len(signals):
        for (metric, grain), rows in signals.groupby(["metric", "grain"], sort=True):
            parts.append(alert_episodes(rows, last_day=last_ends.get(metric, {}).get(grain)))
    parts = [p for p in parts if len(p)]
    frame = pd.concat(parts, ignore_index=True) if parts else alert_episodes(signals.iloc[0:0])
    return frame.assign(computed_at=pd.Timestamp(computed_at))[ALERT_EPISODE_TABLE_COLUMNS]


def new_alerts(episodes: pd.DataFrame, previous_ids: set[str],
               last_ends: Mapping[str, Mapping[str, pd.Timestamp]], window_days: int = ALERT_WINDOW_DAYS) -> pd.DataFrame:
    """Return the headline episodes worth an alert that the previous run had not stored.

    Worth an alert: part of the pipeline's decision (``is_headline``) and ongoing or ending within
    ``window_days`` of its series' last day. ``previous_ids``: the stored ``episode_id``s, so a
    rerun on the same data alerts nothing.
    """
    if episodes.empty:
        return episodes
    last = [last_ends.get(m, {}).get(g) for m, g in zip(episodes["metric"], episodes["grain"])]
    cutoff = pd.to_datetime(pd.Series([pd.NaT if t is None else t for t in last], index=episodes.index))
    recent = episodes["is_ongoing"] | (pd.to_datetime(episodes["end_period"]) > cutoff - pd.Timedelta(days=window_days))
    fresh = ~episodes["episode_id"].isin(previous_ids)
    return episodes[episodes["is_headline"] & recent & fresh].reset_index(drop=True)


def place_name(key, names: Mapping[str, str], area_ids: str = "") -> str:
    """Return a readable name for an episode's area: the area, the members of a region or cluster, or citywide."""
    if key is None or (isinstance(key, float) and math.isnan(key)):
        return "Citywide"
    members = [a for a in (area_ids or "").split(",") if a]
    if len(members) > 1:
        shown = [names.get(a, a) for a in members[:4]]
        return " + ".join(shown) + (f" + {len(members) - 4} more" if len(members) > 4 else "")
    return names.get(str(key), str(key))


def alert_records(alerts: pd.DataFrame, names: Mapping[str, str]) -> list[dict]:
    """Return one plain record per alert episode (for the artifact table and the events)."""
    out = []
    for r in alerts.itertuples(index=False):
        out.append({
            "episode_id": r.episode_id, "neighborhood_id": r.neighborhood_id or "citywide",
            "place": place_name(r.neighborhood_id, names, r.area_ids), "metric": r.metric, "grain": r.grain,
            "method": r.method, "detectors": r.detectors, "start": f"{pd.Timestamp(r.start_period):%Y-%m-%d}",
            "peak": f"{pd.Timestamp(r.peak_period):%Y-%m-%d}", "end": f"{pd.Timestamp(r.end_period):%Y-%m-%d}",
            "observed": _round(r.observed), "expected": _round(r.expected), "ongoing": bool(r.is_ongoing),
        })
    return out


def summary_markdown(episodes: pd.DataFrame, impact: pd.DataFrame, n_new: int, skipped: Mapping[str, str],
                     synthetic_programs: bool) -> str:
    """Return the run summary: alert episodes per metric / grain / kind (headline and reference), impact."""
    lines = ["### Alert episodes", "",
             "One episode = consecutive alarm periods of one series, metric, grain and method.", "",
             "| metric | grain | kind | decision episodes | open now |", "|---|---|---|---|---|"]
    head = count_decisions(episodes) if len(episodes) else pd.DataFrame(columns=["metric", "grain", "kind"])
    open_now = episodes[episodes["is_headline"] & episodes["is_ongoing"]].groupby(["metric", "grain", "kind"]).size()
    for r in head.itertuples(index=False):
        lines.append(f"| {r.metric} | {r.grain} | {r.kind} | {r.n_episodes:,} | "
                     f"{int(open_now.get((r.metric, r.grain, r.kind), 0)):,} |")
    ref = episodes[~episodes["is_headline"]].groupby(["method", "grain"]).size()
    if len(ref):
        lines += ["", "Reference detectors (shown beside the decision, not part of it): "
                  + "; ".join(f"{m} {g}: {n:,} episodes" for (m, g), n in ref.items()) + "."]
    lines += ["", f"New alert episodes this run: {n_new}."]
    heads = impact[impact["method"] == "headline"] if len(impact) else impact
    if len(heads):
        lines += ["", "Program impact: " + impact_summary(heads, synthetic=synthetic_programs)]
    if skipped:
        lines += ["", "Skipped: " + "; ".join(f"{k}: {v}" for k, v in skipped.items())]
    return "\n".join(lines)


def registered(metric: Metric) -> list[tuple[str, str]]:
    """Return the (method, grain) pairs the flow runs for ``metric``, in registry order."""
    return [(m.name, g) for m in metric_methods(metric) for g in m.grains]


def _round(v) -> float | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else round(float(v), 1)


__all__ = ["EPISODE_COLUMNS", "run_method", "signal_rows", "impact_rows", "episode_rows", "new_alerts",
           "alert_records", "summary_markdown", "registered", "place_name"]

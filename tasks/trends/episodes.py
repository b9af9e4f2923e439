"""Alert episodes: the alarm periods of one series, metric, grain and method merged into one alert each.

Built from trend_signals rows (with ``grain``) by the registry: only rows that their method's
``is_alarm`` calls alarms count, and all outputs of one registered method fall into the same
episode (EARS C1, C2 and C3 on the same days are one alert; so are glm_spike and glm_cusum).
Alarm periods of one (neighborhood_id, metric, grain, method) whose gap is at most
``EPISODE_MAX_GAP[grain]`` quiet periods (2 days; 0 weeks or months) merge. The pipeline's one
decision per series and grain is the episodes with ``is_headline``; the other alarm methods
(EARS) are references shown beside it. Observed/expected come from each row's ``details``
(``value``; ``expected``, else EARS' ``baseline_mean``), members from ``details.area_ids``.

Columns (``EPISODE_COLUMNS``), one row per episode:
- ``episode_id`` (str): ``<method>|<metric>|<grain>|<neighborhood_id or citywide>|<start_period>``,
  stable across reruns while the episode starts on the same period.
- ``neighborhood_id`` (str | None): the area, a pooled region key ``R:<id>+<id>``, a cluster key,
  or None for citywide.
- ``area_ids`` (str): the member neighborhood ids, comma-separated ('' for citywide).
- ``metric``, ``grain`` (str); ``method`` (str, the registered method, e.g. ``glm_baseline``);
  ``kind`` (str: spike | cluster); ``is_headline`` (bool: part of the pipeline's decision).
- ``detectors`` (str): the outputs that fired in the episode, comma-separated (``ears_c1,ears_c2``).
- ``start_period`` (date): period_start of the first alarm period; ``end_period`` (date): period_end
  (inclusive) of the last; ``peak_period`` (date): period_start of the alarm period with the largest
  observed - expected (earliest on ties).
- ``n_periods`` (int): alarm periods in the episode.
- ``observed``, ``expected`` (float): summed over its alarm periods; ``peak_observed``,
  ``peak_expected`` (float): at the peak period.
- ``max_score`` (float): the largest ``score`` (statistic - threshold) of its rows; ``min_p_value``
  (float, NaN when the detectors give none).
- ``is_ongoing`` (bool): the episode reaches the series' last ``max_gap`` periods (``last_day``).
"""
from __future__ import annotations

import json
from collections.abc import Mapping

import numpy as np
import pandas as pd

from schemas.trend_results import ALERT_EPISODE_COLUMNS
from tasks.trends.budget import DAYS_PER_PERIOD, EPISODE_MAX_GAP
from tasks.trends.registry import alarm_mask, method_of
from tasks.trends.series import id_order

EPISODE_COLUMNS = ALERT_EPISODE_COLUMNS
_KEYS = ["series_key", "metric", "grain", "method_name"]
_CITY = "\x00citywide"


def alert_episodes(signals: pd.DataFrame, last_day: pd.Timestamp | None = None,
                   max_gap: Mapping[str, int] = EPISODE_MAX_GAP) -> pd.DataFrame:
    """Return one row per alert episode (``EPISODE_COLUMNS``) from trend_signals rows with ``grain``.

    ``last_day`` is the last day of data; without it ``is_ongoing`` is False everywhere.
    """
    alarms = signals[alarm_mask(signals)] if len(signals) else signals
    if alarms.empty:
        return _empty()
    rows = _periods(alarms).sort_values(_KEYS + ["start"], kind="stable").reset_index(drop=True)
    slack = pd.to_timedelta(rows["grain"].map(lambda g: max_gap.get(g, 0) * DAYS_PER_PERIOD.get(g, 1)), unit="D")
    prev_end = rows.groupby(_KEYS, sort=False)["end"].cummax().groupby([rows[k] for k in _KEYS], sort=False).shift()
    new = prev_end.isna() | (rows["start"] > prev_end + slack + pd.Timedelta(days=1))
    rows["episode"] = new.cumsum()
    rows["slack"] = slack
    # One row per (episode, period): the row with the highest score speaks for the period.
    per = (rows.sort_values("score", ascending=False, kind="stable").drop_duplicates(["episode", "start"])
           .sort_values(["episode", "start"]))
    per["excess"] = (per["value"] - per["expected"]).fillna(-np.inf)
    peak = per.loc[per.groupby("episode")["excess"].idxmax()].set_index("episode")
    g = rows.groupby("episode", sort=True)
    first = g.first()
    by_period = per.groupby("episode")
    end = g["end"].max()
    out = pd.DataFrame({
        "neighborhood_id": [None if k == _CITY else k for k in first["series_key"]],
        "area_ids": g["area_ids"].first().fillna(""),
        "metric": first["metric"], "grain": first["grain"], "method": first["method_name"],
        "kind": first["kind"], "is_headline": first["is_headline"].astype(bool),
        "detectors": g["output"].agg(lambda o: ",".join(sorted(set(o)))),
        "start_period": g["start"].min(), "end_period": end, "peak_period": peak["start"],
        "n_periods": by_period.size().astype("int64"),
        "observed": by_period["value"].sum(min_count=1), "expected": by_period["expected"].sum(min_count=1),
        "peak_observed": peak["value"], "peak_expected": peak["expected"],
        "max_score": g["score"].max(), "min_p_value": g["p_value"].min(),
        "is_ongoing": ((end + first["slack"]) >= pd.Timestamp(last_day)) if last_day is not None else False,
    })
    out["neighborhood_id"] = pd.Series(list(out["neighborhood_id"]), index=out.index, dtype=object)
    own = out["area_ids"].eq("") & out["neighborhood_id"].notna()
    out.loc[own, "area_ids"] = out.loc[own, "neighborhood_id"]
    out.insert(0, "episode_id", out["method"] + "|" + out["metric"] + "|" + out["grain"] + "|"
               + out["neighborhood_id"].fillna("citywide") + "|" + out["start_period"].dt.strftime("%Y-%m-%d"))
    out["is_ongoing"] = out["is_ongoing"].astype(bool)
    order = out["neighborhood_id"].map(lambda k: id_order(k) if k is not None else (-1, 0.0, ""))
    out = out.assign(_o=order).sort_values(["metric", "grain", "method", "_o", "start_period"], kind="stable")
    return out.drop(columns="_o").reset_index(drop=True)[EPISODE_COLUMNS]


def _periods(alarms: pd.DataFrame) -> pd.DataFrame:
    """Return one row per alarm row with parsed details and its registered method."""
    details = [json.loads(d) if isinstance(d, str) and d else {} for d in alarms["details"]]
    keys = [_CITY if v is None or (isinstance(v, float) and np.isnan(v)) else str(v) for v in alarms["neighborhood_id"]]
    frame = pd.DataFrame({
        "series_key": keys, "metric": alarms["metric"].to_numpy(), "grain": alarms["grain"].to_numpy(),
        "output": alarms["method"].to_numpy(),
        "start": pd.to_datetime(alarms["period_start"]).to_numpy(),
        "end": pd.to_datetime(alarms["period_end"]).to_numpy(),
        "score": pd.to_numeric(alarms["score"]).to_numpy(float),
        "p_value": pd.to_numeric(alarms["p_value"]).to_numpy(float),
        "value": [_num(d.get("value")) for d in details],
        "expected": [_num(d.get("expected", d.get("baseline_mean"))) for d in details],
        "area_ids": [",".join(map(str, d["area_ids"])) if d.get("area_ids") else None for d in details],
    })
    meth = {o: method_of(o) for o in frame["output"].unique()}
    frame["method_name"] = frame["output"].map(lambda o: meth[o].name)
    frame["kind"] = frame["output"].map(lambda o: meth[o].kind)
    frame["is_headline"] = frame["output"].map(lambda o: meth[o].headline)
    return frame


def _num(v) -> float:
    return float(v) if v is not None else np.nan


def _empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(EPISODE_COLUMNS, [
        object, object, object, object, object, object, object, bool, object, "datetime64[us]", "datetime64[us]",
        "datetime64[us]", "int64", float, float, float, float, float, float, bool])})


def count_decisions(episodes: pd.DataFrame) -> pd.DataFrame:
    """Return headline episodes per (metric, grain, kind): what the report and artifacts count."""
    head = episodes[episodes["is_headline"]]
    return head.groupby(["metric", "grain", "kind"]).size().rename("n_episodes").reset_index()

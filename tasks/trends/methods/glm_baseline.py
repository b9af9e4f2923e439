"""The headline spike detector: a quasi-Poisson regression baseline per series with a spike test and a
CUSUM, thresholds set from an alarm budget on the series' own history, a minimum-count rule and FDR.

Per series and period (``tasks.trends.baseline``): the expected count mu and dispersion phi
from a GLM with trend, weekday and yearly terms, fitted on a rolling window behind a guard band.
- ``glm_spike``: p = P(Y >= y | NB(mu, phi)); statistic -log10 p; Benjamini-Hochberg q across the
  series of the period; alarm when p is below the series' calibrated threshold and q <= ``fdr_q``.
- ``glm_cusum``: S_t = max(0, S_{t-1} + (y ln d - mu (d - 1)) / phi), the log-likelihood-ratio
  CUSUM for a rise to d x mu (d = ``cusum_ratio``), for gradual rises; alarm when S_t > h.
Both need >= 5 events in the last 28 days. The budget (``alarm_budget`` false episodes per
series-year) is shared: the spike threshold takes ``spike_share`` of it, then h is set so the
union of both rules stays within the whole budget on the series' history. Rows are alarms only.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from tasks.trends import budget as bd
from tasks.trends.baseline import BASELINES, rolling_baseline, upper_tail
from tasks.trends.registry import Method, TrendInputs, level_is_alarm
from tasks.trends.series import GRAIN_FREQ, period_end, periods_per_year, public_id, trend_signals_frame, wide_series

DEFAULTS = {"alarm_budget": 1.0, "fdr_q": 0.05, "cusum_ratio": 1.5, "spike_share": 0.25}
SPIKE_FLOOR = 2.0  # never alarm on p > 0.01, whatever the budget allows
CUSUM_FLOOR = 1.0


def glm_scores(starts: pd.DatetimeIndex, Y: np.ndarray, grain: str, params: Mapping[str, Any] | None = None,
               fit: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Return the detector's matrices (periods x series) for counts ``Y``: expected, phi, p, q, spike,
    cusum, gate (min-count), the calibrated ``spike_threshold`` / ``cusum_threshold`` (series,) and
    the alarm masks ``spike_alarm``, ``cusum_alarm``, ``alarm``. ``fit`` reuses a rolling_baseline result.
    """
    p = {**DEFAULTS, **(params or {})}
    fit = fit if fit is not None else rolling_baseline(starts, Y, BASELINES[grain])
    mu, phi = fit["expected"], fit["phi"]
    pval = upper_tail(Y, mu, phi)
    q = bd.bh_qvalues(pval)
    spike = -np.log10(np.maximum(pval, 1e-300))
    cusum = cusum_llr(Y, mu, phi, float(p["cusum_ratio"]))
    gate = bd.min_count_mask(Y, bd.DAYS_PER_PERIOD[grain]) & np.isfinite(mu)
    spike_gate = gate & (q <= float(p["fdr_q"])) if p["fdr_q"] is not None else gate
    ppy, gap, budget = periods_per_year(GRAIN_FREQ[grain]), bd.EPISODE_MAX_GAP[grain], float(p["alarm_budget"])
    share = float(p["spike_share"])
    spike_t = bd.calibrate_thresholds(np.where(np.isfinite(mu), spike, np.nan), spike_gate, budget * share, ppy,
                                      SPIKE_FLOOR, -np.log10(budget * max(share, 1e-9) / ppy), gap)
    spike_alarm = spike_gate & (spike > spike_t[None, :])
    cusum_t = bd.calibrate_thresholds(np.where(np.isfinite(mu), cusum, np.nan), gate, budget, ppy, CUSUM_FLOOR,
                                      np.log(ppy / budget), gap, already=spike_alarm)
    cusum_alarm = gate & (cusum > cusum_t[None, :])
    return {"expected": mu, "phi": phi, "p": pval, "q": q, "spike": spike, "cusum": cusum, "gate": gate,
            "spike_gate": spike_gate, "spike_threshold": spike_t, "cusum_threshold": cusum_t,
            "spike_alarm": spike_alarm, "cusum_alarm": cusum_alarm, "alarm": spike_alarm | cusum_alarm,
            "fit_index": fit["fit_index"]}


def cusum_llr(Y: np.ndarray, mu: np.ndarray, phi: np.ndarray, ratio: float,
              start: np.ndarray | None = None) -> np.ndarray:
    """Return the one-sided CUSUM of quasi-Poisson log-likelihood ratios for a rise to ``ratio`` x mu.

    S_t = max(0, S_{t-1} + (y_t ln r - mu_t (r - 1)) / phi_t); periods without a baseline (NaN)
    carry S unchanged and score NaN. ``start`` (series,) is S before the first period (default 0).
    """
    inc = (Y * np.log(ratio) - mu * (ratio - 1.0)) / phi
    out = np.full(Y.shape, np.nan)
    s = np.zeros(Y.shape[1]) if start is None else np.asarray(start, float).copy()
    for t in range(Y.shape[0]):
        ok = np.isfinite(inc[t])
        s = np.where(ok, np.maximum(0.0, s + np.where(ok, inc[t], 0.0)), s)
        out[t] = np.where(ok, s, np.nan)
    return out


def glm_baseline(series: pd.DataFrame, metric: str, grain: str = "day", params: Mapping[str, Any] | None = None,
                 covered: pd.DatetimeIndex | None = None, add_citywide: bool = True,
                 names: tuple[str, str] = ("glm_spike", "glm_cusum"), members: Mapping[str, list] | None = None,
                 ) -> pd.DataFrame:
    """Return trend_signals alarm rows (``glm_spike`` / ``glm_cusum``) for every series of ``series``.

    ``details``: value, expected, phi, n_recent (events in the last 28 days), threshold, q_value
    (spike), cusum_ratio (cusum), alarm_budget, area_ids (``members`` of a pooled series, else its id).
    """
    wide = wide_series(series, GRAIN_FREQ[grain], covered=covered, add_citywide=add_citywide,
                       where=f"{names[0]} series")
    Y = wide.to_numpy(dtype=float)
    sc = glm_scores(wide.index, Y, grain, params)
    keys = [public_id(k) for k in wide.columns]
    recent = bd.recent_counts(Y, max(1, bd.MIN_EVENTS_DAYS // bd.DAYS_PER_PERIOD[grain]))
    budget = float({**DEFAULTS, **(params or {})}["alarm_budget"])
    parts = []
    for name, stat, thr, alarm in ((names[0], sc["spike"], sc["spike_threshold"], sc["spike_alarm"]),
                                   (names[1], sc["cusum"], sc["cusum_threshold"], sc["cusum_alarm"])):
        t_idx, s_idx = np.nonzero(alarm)
        extra = ({"q_value": sc["q"][t_idx, s_idx]} if name == names[0]
                 else {"cusum_ratio": np.full(len(t_idx), float({**DEFAULTS, **(params or {})}["cusum_ratio"]))})
        detail = pd.DataFrame({"value": Y[t_idx, s_idx], "expected": sc["expected"][t_idx, s_idx],
                               "phi": sc["phi"][t_idx, s_idx], "n_recent": recent[t_idx, s_idx],
                               "threshold": thr[s_idx], "alarm_budget": budget, **extra})
        area_ids = [(members or {}).get(keys[s], [keys[s]] if keys[s] is not None else []) for s in s_idx]
        detail["area_ids"] = area_ids
        lines = detail[sorted(detail.columns)].to_json(orient="records", lines=True, double_precision=10)
        parts.append(pd.DataFrame({
            "neighborhood_id": np.array(keys, dtype=object)[s_idx], "metric": metric,
            "period_start": wide.index[t_idx], "period_end": period_end(wide.index[t_idx], GRAIN_FREQ[grain]),
            "method": name, "statistic": stat[t_idx, s_idx],
            "p_value": sc["p"][t_idx, s_idx] if name == names[0] else np.nan,
            "score": stat[t_idx, s_idx] - thr[s_idx], "level": "alarm",
            "details": lines.splitlines() if len(t_idx) else [],
        }))
    return trend_signals_frame(pd.concat(parts, ignore_index=True))


def _run(inputs: TrendInputs, grain: str) -> pd.DataFrame:
    return glm_baseline(inputs.series[grain], inputs.metric, grain, inputs.params, inputs.covered.get(grain))


METHODS = (
    Method("glm_baseline", "spike", ("day", "week"),
           "Quasi-Poisson regression baseline (trend, weekday, season; rolling refit behind a guard band) with "
           "a spike test and a CUSUM; thresholds from an alarm budget on each series' history, >= 5 events "
           "in 28 days, FDR across series", _run, is_alarm=level_is_alarm, headline=True,
           outputs=("glm_spike", "glm_cusum"),
           reference="Noufaily et al. 2013 (improved Farrington); Farrington et al. 1996; Page 1954 CUSUM"),
)

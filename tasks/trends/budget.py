"""Alarm budgets: episode counts of alarm masks, thresholds calibrated on a series' own history, FDR.

An alarm budget is a number of false alert episodes per series per year (``alarm_budget``,
default 1). ``calibrate_thresholds`` picks, per series, the lowest threshold at which the series'
own history (every scored period) would have raised at most ``budget x years`` episodes; since
most of a history is outbreak-free, that caps the false episodes the detector raises. An
episode is a run of alarm periods, runs separated by at most ``max_gap`` quiet periods merged
(the same rule as ``tasks.trends.episodes``). The minimum-count rule (Farrington: no alarm
unless >= 5 events in the last 28 days) and Benjamini-Hochberg q-values across series are the
other gates. All functions take (periods x series) matrices.
"""
from __future__ import annotations

import numpy as np

MIN_EVENTS = 5
MIN_EVENTS_DAYS = 28
CANDIDATES = 400  # highest scores tried per series; enough for >= 100 alarm periods a year
# Alarm runs this many quiet periods apart are one episode: a daily outbreak does not clear the
# threshold every single day. Weekly and monthly alarms must touch.
EPISODE_MAX_GAP = {"day": 2, "week": 0, "month": 0}
DAYS_PER_PERIOD = {"day": 1, "week": 7, "month": 30}


def episode_starts(mask: np.ndarray, max_gap: int = 0) -> np.ndarray:
    """Return True where an episode starts: an alarm with no alarm in the ``max_gap + 1`` periods before.

    ``mask`` is (periods, ...) boolean; works on any trailing shape.
    """
    mask = np.asarray(mask, dtype=bool)
    recent = np.zeros_like(mask)
    for lag in range(1, max_gap + 2):
        recent[lag:] |= mask[:-lag]
    return mask & ~recent


def count_episodes(mask: np.ndarray, max_gap: int = 0) -> np.ndarray:
    """Return the number of episodes per series (column) of an alarm ``mask`` (periods x series)."""
    return episode_starts(mask, max_gap).sum(axis=0)


def recent_counts(Y: np.ndarray, periods: int) -> np.ndarray:
    """Return, per (period, series), the events in the ``periods`` periods ending with it (NaN = 0)."""
    y = np.nan_to_num(np.asarray(Y, float))
    c = np.cumsum(y, axis=0)
    out = c.copy()
    out[periods:] -= c[:-periods]
    return out


def min_count_mask(Y: np.ndarray, days_per_period: int, min_events: int = MIN_EVENTS,
                   window_days: int = MIN_EVENTS_DAYS) -> np.ndarray:
    """Return True where the last ``window_days`` (in whole periods) hold at least ``min_events`` events."""
    periods = max(1, int(round(window_days / days_per_period)))
    return recent_counts(Y, periods) >= min_events


def calibrate_thresholds(score: np.ndarray, gate: np.ndarray, budget: float, periods_per_year: float,
                         floor: float, default: float, max_gap: int = 0,
                         already: np.ndarray | None = None) -> np.ndarray:
    """Return one threshold per series: alarms are ``score > threshold`` where ``gate`` holds.

    The threshold is the lowest candidate (a score value of the series, not below ``floor``)
    at and above which the history raises at most ``budget`` episodes per year of scored
    periods, counting the episodes of ``already`` (alarms of another rule of the same decision)
    together with these. Series with under a year of scores get ``default`` (from theory).
    """
    T, S = score.shape
    scored = np.isfinite(score)
    years = scored.sum(axis=0) / periods_per_year
    base = np.zeros((T, S), bool) if already is None else np.asarray(already, bool)
    out = np.full(S, float(default))
    for s in np.flatnonzero(years >= 1.0):
        out[s] = _calibrate_one(score[:, s], gate[:, s], budget * years[s], floor, max_gap, base[:, s])
    return out


def _calibrate_one(x: np.ndarray, gate: np.ndarray, allowed: float, floor: float, max_gap: int,
                   base: np.ndarray) -> float:
    usable = np.isfinite(x) & gate
    above = np.unique(x[usable & (x > floor)])[::-1]  # descending
    capped = len(above) > CANDIDATES
    cands = np.append(above[:CANDIDATES], [] if capped else [floor])
    masks = base[None, :] | (usable[None, :] & (np.nan_to_num(x, nan=-np.inf)[None, :] > cands[:, None]))
    counts = count_episodes(masks.T, max_gap)  # per candidate, from the highest threshold down
    over = np.flatnonzero(counts > allowed)
    if len(over) == 0:
        return float(cands[-1])
    # Alarms are score > threshold: the candidate before the first one over budget is the lowest safe one.
    return float(cands[over[0] - 1]) if over[0] > 0 else float(np.nanmax(x))


def bh_qvalues(p: np.ndarray) -> np.ndarray:
    """Return Benjamini-Hochberg q-values per row of ``p`` (periods x series), across its finite entries.

    Equals ``statsmodels.stats.multitest.multipletests(p, method='fdr_bh')[1]`` row by row; NaN stays NaN.
    """
    p = np.atleast_2d(np.asarray(p, float))
    finite = np.isfinite(p)
    m = finite.sum(axis=1, keepdims=True)
    order = np.argsort(np.where(finite, p, np.inf), axis=1)
    ranked = np.take_along_axis(np.where(finite, p, 1.0), order, axis=1)
    rank = np.arange(1, p.shape[1] + 1)[None, :]
    q = np.where(rank <= m, ranked * m / rank, np.inf)
    q = np.minimum.accumulate(q[:, ::-1], axis=1)[:, ::-1]
    out = np.empty_like(q)
    np.put_along_axis(out, order, np.minimum(q, 1.0), axis=1)
    return np.where(finite, out, np.nan)

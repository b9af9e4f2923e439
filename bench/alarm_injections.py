"""Injected-outbreak scoring for bench/alarms.py: each detector is fitted once on the real series and
then scores thousands of injected windows against those fits, vectorised.

Why that is exact, not an approximation: the regression baseline predicting day t was fitted on
data ending ``guard`` (14) days before its refit date, and refit dates are <= t, so for an outbreak
of <= 14 days no injected count reaches the baseline of any day inside the window; expected
counts of the model, dispersion and calibrated thresholds are the clean ones. What changes is
recomputed per injection: the observed counts, the daily re-levelling sums (which see injected
days from ``level_guard`` days after the start), the CUSUM path from the day before, the 28-day
minimum count and the period's BH q-values (the other series keep their clean p-values). EARS reads the 7 days before t (C2/C3 after a
2-day guard band), so its windows are rescored from 11 days before the outbreak.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tasks.trends import budget as bd
from tasks.trends.baseline import BASELINES, rolling_baseline, upper_tail
from tasks.trends.methods.ears import EARS_THRESHOLDS, ears_statistics
from tasks.trends.methods.glm_baseline import DEFAULTS, cusum_llr, glm_scores

EARS_LEAD = 11  # C3 at t needs C2 at t-2, whose baseline starts at t-11


@dataclass
class Injections:
    """``n`` injected outbreaks: target column, start index, length and the extra counts (n x length)."""

    col: np.ndarray
    start: np.ndarray
    extra: np.ndarray

    @property
    def length(self) -> int:
        return self.extra.shape[1]


def draw_injections(Y: np.ndarray, cols: np.ndarray, first: int, n: int, length: int, rise: float,
                    rng: np.random.Generator) -> Injections:
    """Return ``n`` outbreaks: a column drawn uniformly from ``cols``, a start uniformly in
    [first, T - length], and Poisson(rise x mean of the 28 days before the start) extra counts a day."""
    T = Y.shape[0]
    col = rng.choice(cols, size=n)
    start = rng.integers(max(first, 28), T - length + 1, size=n)
    before = np.stack([Y[s - 28:s, c] for s, c in zip(start, col)])
    lam = rise * np.nanmean(before, axis=1)
    extra = rng.poisson(np.repeat(lam[:, None], length, axis=1)).astype(float)
    return Injections(col, start, extra)


def _window(M: np.ndarray, inj: Injections, cols: np.ndarray | None = None) -> np.ndarray:
    """Return the (n x length) values of matrix M over each injection's window (column ``cols`` or its own)."""
    cols = inj.col if cols is None else cols
    rows = inj.start[:, None] + np.arange(inj.length)[None, :]
    return M[rows, cols[:, None]]


class GlmScorer:
    """The headline detector fitted on (T x S) counts; ``inject`` returns its alarms inside each window."""

    def __init__(self, starts: pd.DatetimeIndex, Y: np.ndarray, grain: str = "day", params=None, cfg=None):
        self.Y, self.grain = Y, grain
        self.cfg = cfg or BASELINES[grain]
        self.params = {**DEFAULTS, **(params or {})}
        self.fit = rolling_baseline(starts, Y, self.cfg)
        self.sc = glm_scores(starts, Y, grain, self.params, fit=self.fit)
        self.recent = bd.recent_counts(Y, bd.MIN_EVENTS_DAYS)

    @property
    def clean_alarm(self) -> np.ndarray:
        return self.sc["alarm"]

    def inject(self, inj: Injections, cols: np.ndarray | None = None) -> np.ndarray:
        """Return (n x length) alarms with the extra counts added to column ``cols`` (default inj.col)."""
        cols = inj.col if cols is None else cols
        ok = cols >= 0
        out = np.zeros(inj.extra.shape, bool)
        if not ok.any():
            return out
        sub = Injections(inj.col[ok], inj.start[ok], inj.extra[ok])
        c = cols[ok]
        sc = self.sc
        y = _window(self.Y, sub, c) + sub.extra
        mu, phi = self._expected(sub, c), _window(sc["phi"], sub, c)
        p = upper_tail(y, mu, phi)
        gate = (_window(self.recent, sub, c) + np.cumsum(sub.extra, axis=1) >= bd.MIN_EVENTS) & np.isfinite(mu)
        spike_gate = gate
        if self.params["fdr_q"] is not None:
            spike_gate = gate & (self._qvalues(sub, c, p) <= float(self.params["fdr_q"]))
        spike = spike_gate & (-np.log10(np.maximum(p, 1e-300)) > sc["spike_threshold"][c][:, None])
        before = sc["cusum"][sub.start - 1, c]
        s0 = np.where(np.isfinite(before), before, 0.0)
        cus = cusum_llr(y.T, mu.T, phi.T, float(self.params["cusum_ratio"]), start=s0).T
        cusum = gate & (cus > sc["cusum_threshold"][c][:, None])
        out[ok] = spike | cusum
        return out

    def _expected(self, sub: Injections, c: np.ndarray) -> np.ndarray:
        """Expected counts in the window; the re-levelling sums take the injected counts they can see."""
        if "level_obs" not in self.fit:
            return _window(self.fit["expected"], sub, c)
        cfg = self.cfg
        seen = np.concatenate([np.zeros((len(c), 1)), np.cumsum(sub.extra, axis=1)], axis=1)
        lag = np.clip(np.arange(sub.length) - cfg.level_guard, 0, None)  # extra days before t - guard
        obs = _window(self.fit["level_obs"], sub, c) + seen[:, lag]
        exp = _window(self.fit["level_exp"], sub, c)
        return _window(self.fit["model"], sub, c) * (obs + cfg.level_prior) / (exp + cfg.level_prior)

    def _qvalues(self, sub: Injections, c: np.ndarray, p: np.ndarray) -> np.ndarray:
        """BH q-values of the injected p among the clean p-values of the other series on the same day."""
        rows = sub.start[:, None] + np.arange(sub.length)[None, :]
        day_p = self.sc["p"][rows.ravel()].copy()  # (n*L, S)
        day_p[np.arange(len(day_p)), np.repeat(c, sub.length)] = p.ravel()
        q = bd.bh_qvalues(day_p)
        return q[np.arange(len(q)), np.repeat(c, sub.length)].reshape(p.shape)


class EarsScorer:
    """EARS C1/C2/C3 on (T x S) counts; alarm when any C exceeds its CDC threshold plus a per-series
    offset: 0 for the CDC rule, or calibrated to the alarm budget on the series' history."""

    def __init__(self, Y: np.ndarray, first: int, budget: float | None, grain: str = "day"):
        self.Y, self.first = Y, first
        self.score = self._score(Y)
        self.score[:first] = np.nan  # evaluated (and calibrated) on the same days as the GLM
        S = Y.shape[1]
        if budget is None:
            self.threshold = np.zeros(S)
        else:
            self.threshold = bd.calibrate_thresholds(self.score, np.ones_like(self.score, bool), budget,
                                                     365.2425, 0.0, 0.0, bd.EPISODE_MAX_GAP[grain])
        self.clean_alarm = np.nan_to_num(self.score, nan=-np.inf) > self.threshold[None, :]

    @staticmethod
    def _score(Y: np.ndarray) -> np.ndarray:
        st = ears_statistics(Y)
        return np.fmax(np.fmax(st["ears_c1"] - EARS_THRESHOLDS["ears_c1"], st["ears_c2"] - EARS_THRESHOLDS["ears_c2"]),
                       st["ears_c3"] - EARS_THRESHOLDS["ears_c3"])

    def inject(self, inj: Injections, cols: np.ndarray | None = None) -> np.ndarray:
        cols = inj.col if cols is None else cols
        ok = cols >= 0
        out = np.zeros(inj.extra.shape, bool)
        if not ok.any():
            return out
        c, start, L = cols[ok], inj.start[ok], inj.length
        rows = start[:, None] + np.arange(-EARS_LEAD, L)[None, :]
        seg = self.Y[rows, c[:, None]].T.copy()  # (lead + L, n)
        seg[EARS_LEAD:] += inj.extra[ok].T
        score = self._score(seg)[EARS_LEAD:].T  # (n, L)
        out[ok] = np.nan_to_num(score, nan=-np.inf) > self.threshold[c][:, None]
        return out


def first_new_alarm(alarm: np.ndarray, clean: np.ndarray) -> np.ndarray:
    """Return, per injection, the first window day with an alarm the clean series did not have (-1 = none)."""
    new = alarm & ~clean
    return np.where(new.any(axis=1), new.argmax(axis=1), -1)


def oracle_real_detected(inj: Injections, Y: np.ndarray, budget: float, first: int) -> np.ndarray:
    """Return True per injection when a window test calibrated on the real series would alarm.

    Statistic: the window's total over (28-day mean before the window x length), the test knowing
    where the outbreak starts and how long it lasts. Per area, its threshold is the lowest at which
    the real series' own windows (every start from ``first``) exceed it in at most ``budget``
    episodes a year: the natural variation of real counts, not Poisson noise, sets the bar.
    """
    L, T = inj.length, Y.shape[0]
    c = np.vstack([np.zeros((1, Y.shape[1])), np.cumsum(np.nan_to_num(Y), axis=0)])
    t = np.arange(max(first, 28), T - L + 1)
    base = (c[t] - c[t - 28]) / 28.0 * L
    ratio = np.where(base > 0, (c[t + L] - c[t]) / np.where(base > 0, base, 1.0), np.nan)
    thr = bd.calibrate_thresholds(ratio, np.isfinite(ratio), budget, 365.2425, 1.0, np.inf, L - 1)
    b0 = (c[inj.start, inj.col] - c[inj.start - 28, inj.col]) / 28.0 * L
    total = c[inj.start + L, inj.col] - c[inj.start, inj.col] + inj.extra.sum(axis=1)
    return (b0 > 0) & (total / np.where(b0 > 0, b0, 1.0) > thr[inj.col])


def oracle_detected(inj: Injections, Y: np.ndarray, budget: float) -> np.ndarray:
    """Return True per injection when a test that knows the window and the true mean would alarm.

    Baseline lambda0 = (28-day mean before the start) x length; alarm when the window total
    reaches the smallest c with P(Poisson(lambda0) >= c) <= budget x length / 365, i.e. about
    ``budget`` false alarms a year if every disjoint window were tested. An upper bound for
    any detector that must also find the window.
    """
    from scipy import stats

    L = inj.length
    before = np.stack([Y[s - 28:s, c] for s, c in zip(inj.start, inj.col)])
    lam0 = np.nanmean(before, axis=1) * L
    alpha = budget * L / 365.2425
    crit = stats.poisson.isf(alpha, lam0) + 1  # smallest c with sf(c - 1) <= alpha
    total = _window(Y, inj).sum(axis=1) + inj.extra.sum(axis=1)
    return (total >= crit) & (lam0 > 0)

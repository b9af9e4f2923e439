"""Regression baselines for count series: quasi-Poisson GLMs refitted on a rolling window (Noufaily-style).

For every (period, series) the expected count comes from a log-linear model fitted to that
series' own past: intercept, linear trend, day-of-week dummies (daily series) and yearly Fourier
terms, fitted on the ``window`` periods that end ``guard`` periods before the refit date, refitted
every ``refit_every`` periods. Baseline outliers (standardised Anscombe residual > 2.58) get zero
weight and the model is refitted once (Noufaily et al. 2013, the improved Farrington). The
dispersion is the Pearson statistic over residual degrees of freedom, floored at 1; tail
probabilities use the negative binomial with that mean and variance phi * mu.

The fits are iteratively reweighted least squares written out in numpy so that all series of one
refit date are solved as one batch (statsmodels' GLM fits one series at a time: ~40x slower on
78 series x 37 refits); tests pin the coefficients and dispersion to ``statsmodels`` GLM.
Uncovered periods (NaN) get zero weight in the fit and no prediction.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from threadpoolctl import threadpool_limits

ANSCOMBE_CUTOFF = 2.58


@dataclass(frozen=True)
class BaselineConfig:
    """How a series' baseline is fitted: window, guard band, refit step (in periods) and model terms."""

    window: int  # training periods per fit (the most recent ones before the guard band)
    min_train: int  # fewer observed training periods: no prediction
    guard: int  # periods between the last training period and the refit date
    refit_every: int  # periods between refits; predictions up to the next refit use the last fit
    season_days: float = 365.25  # one yearly cycle
    harmonics: int = 2  # sine/cosine pairs of the yearly cycle
    day_of_week: bool = False
    trend: bool = True
    knot_days: float | None = 91.0  # piecewise-linear trend with a knot every ~quarter; None = one line
    flat_forecast: bool = True  # predict at the trend's level at the window end (no slope extrapolation)
    reweight: bool = False  # Noufaily: zero weight for baseline outliers, refit once
    hinge_penalty: float = 1.0  # ridge on the hinge coefficients: a sparse quarter cannot send the level to 0
    weekday_penalty: float = 0.01  # weak ridge: a weekday without events keeps a finite coefficient
    season_penalty: float = 0.01  # ridge on the Fourier terms: two years cannot tell season from level shifts
    level_periods: int = 0  # re-level each period's expectation on this many periods before ``level_guard``
    level_guard: int = 0  # periods between the re-levelling window and the period it predicts
    level_prior: float = 10.0  # ... shrunk toward the model by this many expected events (sparse series: model)


BASELINES = {
    # Daily: two years of history, a 14-day guard band (>= the longest outbreak the bench injects,
    # so an outbreak never leaks into its own baseline), refitted every 4 weeks.
    # The level is re-estimated every day on the 28 days ending 7 days before (bench: tracking level
    # shifts matters more than the outbreak's own first week leaking into the level after 7 days).
    "day": BaselineConfig(window=728, min_train=364, guard=14, refit_every=28, harmonics=2, day_of_week=True,
                          level_periods=28, level_guard=7),
    "week": BaselineConfig(window=104, min_train=52, guard=2, refit_every=4, harmonics=1, level_periods=4,
                           level_guard=1),
}


def design_matrix(starts: pd.DatetimeIndex, cfg: BaselineConfig, end: int | None = None) -> np.ndarray:
    """Return the (periods x terms) model matrix of a fit whose window ends at period ``end`` (exclusive).

    Terms: 1; the trend (years relative to the window end, with hinges every ``knot_days`` inside
    the ``window``; periods after the end sit at the end when ``flat_forecast``); weekday dummies
    (Monday = reference) with ``day_of_week``; ``harmonics`` yearly sine/cosine pairs.
    """
    end = len(starts) if end is None else end
    cols = [np.ones(len(starts))]
    if cfg.trend:
        cols += _trend_terms(starts, cfg, end)
    if cfg.day_of_week:
        weekday = np.asarray(starts.weekday)
        cols += [(weekday == d).astype(float) for d in range(1, 7)]
    angle = 2 * np.pi * np.asarray(starts.dayofyear - 1, dtype=float) / cfg.season_days
    for h in range(1, cfg.harmonics + 1):
        cols += [np.sin(h * angle), np.cos(h * angle)]
    return np.column_stack(cols)


def _trend_terms(starts: pd.DatetimeIndex, cfg: BaselineConfig, end: int) -> list[np.ndarray]:
    """Return the trend columns: years since the window end (<= 0 inside it) and hinge terms at the knots."""
    last = starts[end - 1]
    years = np.asarray((starts - last) / pd.Timedelta(days=1), dtype=float) / 365.25
    if cfg.flat_forecast:
        years = np.minimum(years, 0.0)
    cols = [years]
    if cfg.knot_days:
        first = starts[max(0, end - cfg.window)]
        span = (last - first) / pd.Timedelta(days=1)
        knots = -np.arange(cfg.knot_days, span - cfg.knot_days / 2, cfg.knot_days) / 365.25
        cols += [np.maximum(years - k, 0.0) for k in knots[::-1]]
    return cols


def fit_quasi_poisson(X: np.ndarray, Y: np.ndarray, weights: np.ndarray, penalty: np.ndarray | None = None,
                      eta0: np.ndarray | None = None, max_iter: int = 30,
                      tol: float = 1e-8) -> tuple[np.ndarray, np.ndarray]:
    """Return (coefficients (P x k), dispersion (P,)) of Poisson log-link GLMs, one per row of ``Y``.

    ``X`` is (n x k), ``Y`` and ``weights`` (P x n) with prior weights (0 = not in the fit).
    Dispersion = Pearson chi2 / (n_w - k) with n_w the periods of non-zero weight (statsmodels'
    ``scale='X2'``), not floored here. ``penalty`` (k,) adds a ridge ``penalty * beta**2 / 2`` to the
    log-likelihood (None = the plain GLM). ``eta0`` (P x n) are starting linear predictors (NaN =
    statsmodels' default start), e.g. the previous refit's, which cuts the iterations ~5x.
    """
    n, k = X.shape
    Y = np.where(weights > 0, Y, 0.0)
    ybar = (Y * weights).sum(axis=1, keepdims=True) / np.maximum(weights.sum(axis=1, keepdims=True), 1e-12)
    eta = np.log(np.maximum((Y + ybar) / 2.0, 1e-3))  # statsmodels' starting values
    if eta0 is not None:
        eta = np.where(np.isfinite(eta0), np.clip(eta0, -30.0, 30.0), eta)
    mu = np.exp(eta)
    # The tiny ridge keeps the solve defined when a weekday has no event at all.
    ridge = np.diag(1e-9 + (np.zeros(k) if penalty is None else np.asarray(penalty, float)))
    # X'WX for every row at once as one matrix product: (P x n) @ (n x k*k).
    outer = (X[:, :, None] * X[:, None, :]).reshape(n, k * k)
    for _ in range(max_iter):
        z = eta + (Y - mu) / mu
        w = weights * mu
        xtwx = (w @ outer).reshape(-1, k, k) + ridge
        beta = np.linalg.solve(xtwx, ((w * z) @ X)[..., None])[..., 0]
        eta = np.clip(beta @ X.T, -30.0, 30.0)
        mu_old, mu = mu, np.exp(eta)
        if np.max(np.abs(mu - mu_old) / (mu + 0.1)) <= tol:
            break
    n_w = (weights > 0).sum(axis=1)
    pearson = (weights * (Y - mu) ** 2 / mu).sum(axis=1)
    return beta, pearson / np.maximum(n_w - k, 1)


def anscombe_residuals(y: np.ndarray, mu: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """Return standardised Anscombe residuals of Poisson counts (leverage ignored: n >> k here)."""
    mu = np.maximum(mu, 1e-12)
    return 1.5 * (np.cbrt(y) ** 2 * np.cbrt(mu) - mu) / (mu ** (1 / 6) * np.sqrt(phi))


def rolling_baseline(starts: pd.DatetimeIndex, Y: np.ndarray, cfg: BaselineConfig) -> dict[str, np.ndarray]:
    """Return expected counts, dispersion and fit dates for every (period, series) of ``Y`` (periods x series).

    Keys: ``expected`` and ``phi`` (NaN where no fit applies), ``fit_index`` (periods,) the refit
    date index whose model predicts each period (-1 before the first fit), ``n_train`` (periods x
    series) the observed periods in that fit, ``model`` the expectation before re-levelling.
    """
    with threadpool_limits(1):  # small matrices: BLAS threads only contend on shared cores (100x slower)
        return _rolling(starts, Y, cfg)


def _rolling(starts: pd.DatetimeIndex, Y: np.ndarray, cfg: BaselineConfig) -> dict[str, np.ndarray]:
    T, S = Y.shape
    expected = np.full((T, S), np.nan)
    phi = np.full((T, S), np.nan)
    n_train = np.zeros((T, S))
    fit_index = np.full(T, -1)
    observed = np.isfinite(Y)
    warm = np.full((T, S), np.nan)  # the previous fit's linear predictor, to start the next one from
    for r in range(cfg.min_train + cfg.guard, T, cfg.refit_every):
        lo, hi = max(0, r - cfg.guard - cfg.window), r - cfg.guard
        X = design_matrix(starts, cfg, end=hi)
        ys, ok = np.nan_to_num(Y[lo:hi].T), observed[lo:hi].T.astype(float)
        enough = ok.sum(axis=1) >= cfg.min_train
        if not enough.any():
            continue
        beta, disp = _fit_window(X[lo:hi], ys[enough], ok[enough], cfg.reweight, _penalty(cfg, X.shape[1]),
                                 warm[lo:hi, enough].T)
        warm[:, enough] = X @ beta.T
        block = slice(r, min(T, r + cfg.refit_every))
        mu = np.exp(np.clip(X[block] @ beta.T, -30.0, 30.0))
        mu[~observed[block][:, enough]] = np.nan
        cols = np.flatnonzero(enough)
        expected[block, cols] = mu
        phi[block, cols] = np.maximum(disp, 1.0)
        n_train[block, cols] = ok[enough].sum(axis=1)
        fit_index[block] = r
    out = {"expected": expected, "model": expected, "phi": phi, "fit_index": fit_index, "n_train": n_train}
    if cfg.level_periods:
        obs, exp = level_sums(Y, expected, cfg.level_guard, cfg.level_periods)
        out.update(expected=expected * (obs + cfg.level_prior) / (exp + cfg.level_prior), level_obs=obs, level_exp=exp)
    return out


def level_sums(Y: np.ndarray, mu: np.ndarray, guard: int, periods: int) -> tuple[np.ndarray, np.ndarray]:
    """Return per (period, series) the observed and model-expected sums over the ``periods`` periods
    ending ``guard`` periods before it; the re-levelling factor is (obs + prior) / (exp + prior).

    The model is refitted only every few weeks behind its guard band; this ratio (the Poisson
    estimate of a multiplicative level, shrunk toward 1 by ``prior`` expected events, so a sparse
    series keeps the model's level) follows level shifts with a lag of ``guard`` periods only.
    """
    ok = np.isfinite(Y) & np.isfinite(mu)
    cy = np.vstack([np.zeros((1, Y.shape[1])), np.cumsum(np.where(ok, Y, 0.0), axis=0)])
    cm = np.vstack([np.zeros((1, Y.shape[1])), np.cumsum(np.where(ok, mu, 0.0), axis=0)])
    t = np.arange(Y.shape[0])
    hi = np.clip(t - guard, 0, None)  # window [t - guard - periods, t - guard)
    lo = np.clip(hi - periods, 0, None)
    return cy[hi] - cy[lo], cm[hi] - cm[lo]


def _penalty(cfg: BaselineConfig, k: int) -> np.ndarray:
    """Return the ridge per term: on the hinges, the weekday dummies and the Fourier terms (0 on 1 and the line)."""
    out = np.zeros(k)
    if cfg.trend and cfg.knot_days:
        n_hinge = k - 2 - (6 if cfg.day_of_week else 0) - 2 * cfg.harmonics
        out[2:2 + n_hinge] = cfg.hinge_penalty
    n_fourier = 2 * cfg.harmonics
    if cfg.day_of_week:
        out[k - n_fourier - 6:k - n_fourier] = cfg.weekday_penalty
    if n_fourier:
        out[k - n_fourier:] = cfg.season_penalty
    return out


def _fit_window(X: np.ndarray, Y: np.ndarray, ok: np.ndarray, reweight: bool, penalty: np.ndarray,
                eta0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fit one refit date's models for all series; Noufaily reweighting drops baseline outliers once."""
    beta, disp = fit_quasi_poisson(X, Y, ok, penalty, eta0)
    if reweight:
        mu = np.exp(np.clip(beta @ X.T, -30.0, 30.0))
        resid = anscombe_residuals(Y, mu, np.maximum(disp, 1.0)[:, None])
        keep = ok * (resid <= ANSCOMBE_CUTOFF)
        beta, disp = fit_quasi_poisson(X, Y, keep, penalty, beta @ X.T)
    return beta, disp


def upper_tail(y: np.ndarray, mu: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """Return P(Y >= y) for Y negative binomial with mean ``mu`` and variance ``phi * mu`` (Poisson at phi = 1)."""
    y, mu, phi = np.broadcast_arrays(np.asarray(y, float), np.asarray(mu, float), np.asarray(phi, float))
    out = np.full(y.shape, np.nan)
    ok = np.isfinite(y) & np.isfinite(mu) & np.isfinite(phi)
    pois = ok & (phi <= 1.0 + 1e-9)
    nb = ok & ~pois
    out[pois] = stats.poisson.sf(y[pois] - 1, mu[pois])
    size = mu[nb] / (phi[nb] - 1.0)
    out[nb] = stats.nbinom.sf(y[nb] - 1, size, 1.0 / phi[nb])
    return out

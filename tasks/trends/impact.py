"""Program impact on monthly counts: interrupted time series and difference-in-differences.

Both are Poisson GLMs (statsmodels) whose point estimates equal quasi-Poisson ones; inference is
robust (HAC for ITS, clustered by neighborhood for DiD), so the Pearson dispersion is reported
but does not enter the standard errors. Choices and caveats: docs/methods.md.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
import statsmodels.api as sm
from threadpoolctl import threadpool_limits

from schemas.errors import InputError
from schemas.trend_results import PROGRAM_IMPACT_COLUMNS
from tasks.trends.detectors import complete_calendar, details_json

SEASONAL_TERMS = ("month", "harmonic", "none")
# Fewer treated clusters than this and cluster-robust SEs are unreliable (MacKinnon & Webb 2017).
MIN_TREATED_CLUSTERS = 10
# _SINGLE_THREAD_NOTE: the GLM fits run with single-threaded BLAS. NOTE: on the 2-core build
# machine multi-threaded OpenBLAS made the 3,500 x 123 DiD least squares 10x slower
# (program_impact for 5 programs on the real panel: 11.5 s vs 0.96 s); these matrices are too
# small to gain from threads.


def newey_west_maxlags(n: int) -> int:
    """Return the Newey-West (1994) rule-of-thumb HAC lag length floor(4 (n/100)^(2/9)), at least 1."""
    return max(1, math.floor(4 * (n / 100) ** (2 / 9)))


def program_month(started_on) -> pd.Timestamp:
    """Return the first post-program month: the month containing ``started_on``."""
    return pd.Timestamp(started_on).to_period("M").to_timestamp()


def interrupted_time_series(
    monthly: pd.DataFrame,
    start_month,
    population: float | pd.Series | None = None,
    *,
    seasonal: str = "month",
    maxlags: int | None = None,
    alpha: float = 0.05,
    min_pre: int = 12,
    min_post: int = 6,
) -> dict:
    """Return level and slope change (rate ratios) at ``start_month`` for one monthly count series.

    Model: log E[y_t] = log(pop_t) + b0 + b1 t + b2 post_t + b3 (t - t0) post_t + seasonal terms,
    t in months, post_t = month >= start_month. Seasonal terms: 11 month-of-year dummies
    ('month'), one sine/cosine pair per 12 and 6 months ('harmonic'), or none. Standard errors are
    Newey-West HAC with ``maxlags`` (default ``newey_west_maxlags(n)``, 3 for 47 months), the
    small-sample correction and t quantiles.
    ``population`` is a constant, a Series indexed by month, or None (no offset). Returns keys:
    level_change_rr, level_change_ci_low/_ci_high, level_change_p, slope_change_rr (per month),
    slope_change_ci_low/_ci_high, slope_change_p, pre_slope_rr, n_months_pre, n_months_post,
    dispersion, maxlags, seasonal.
    """
    if seasonal not in SEASONAL_TERMS:
        raise ValueError(f"seasonal must be one of {SEASONAL_TERMS}")
    series = _monthly_series(monthly)
    t0 = pd.Timestamp(start_month)
    if t0 != t0.to_period("M").to_timestamp():
        raise InputError("interrupted_time_series", f"start_month {t0.date()} is not a month start",
                         "Pass the first post-program month (program_month(started_on))")
    post = (series.index >= t0).astype(float)
    n_pre, n_post = int((post == 0).sum()), int(post.sum())
    if n_pre < min_pre or n_post < min_post:
        raise InputError("interrupted_time_series", f"{n_pre} months before and {n_post} from {t0.date()}; "
                         f"needs at least {min_pre} and {min_post}", "Use a program inside the series range")
    y = series.to_numpy(dtype=float)
    if y[post == 0].sum() == 0 or y[post == 1].sum() == 0:
        raise InputError("interrupted_time_series", "no events before or after the start",
                         "A rate ratio is undefined on an all-zero segment")
    t = np.arange(len(y), dtype=float)
    t_since = np.clip(t - n_pre, 0.0, None) * post
    design = pd.DataFrame({"const": 1.0, "time": t, "post": post, "time_since": t_since}, index=series.index)
    design = design.join(_seasonal_terms(series.index, seasonal))
    offset = _log_offset(population, series.index)
    lags = newey_west_maxlags(len(y)) if maxlags is None else maxlags
    # Small-sample correction + t reference: plain HAC covered a known level change 87% of the
    # time at nominal 95% in 200 simulated 47-month series, this 92% (docs/methods.md).
    with threadpool_limits(limits=1, user_api="blas"):  # see _SINGLE_THREAD_NOTE
        fit = sm.GLM(y, design, family=sm.families.Poisson(), offset=offset).fit(
            cov_type="HAC", cov_kwds={"maxlags": lags, "use_correction": True}, use_t=True)
    out = {"n_months_pre": n_pre, "n_months_post": n_post, "maxlags": lags, "seasonal": seasonal,
           "dispersion": float(fit.pearson_chi2 / fit.df_resid), "pre_slope_rr": float(np.exp(fit.params["time"]))}
    for name, term in (("level_change", "post"), ("slope_change", "time_since")):
        out.update(_rate_ratio(fit, term, name, alpha))
    return out


def difference_in_differences(
    panel: pd.DataFrame,
    treated_ids: Sequence[str],
    start_month,
    comparison_ids: Sequence[str],
    *,
    population: pd.DataFrame | None = None,
    alpha: float = 0.05,
    inference: str = "auto",
    placebo_draws: int = 199,
    seed: int = 12345,
) -> dict:
    """Return the treated x post rate ratio from a Poisson DiD with neighborhood and month fixed effects.

    ``panel`` is long monthly (``neighborhood_id``, ``period_start``, ``value``); only the treated
    and comparison ids are used, absent months are zeros. Comparison areas with no events at all
    carry no information under neighborhood fixed effects and are dropped (``dropped_all_zero``).
    ``population`` (``neighborhood_id``, ``population``) adds a log offset; a constant population
    is absorbed by the fixed effects. CI and p come from cluster-robust (by neighborhood) standard
    errors (``inference='cluster'``) or from placebo-in-space draws (``'placebo'``, see
    ``placebo_inference``); ``'auto'`` uses the cluster-robust ones only with at least
    ``MIN_TREATED_CLUSTERS`` treated areas, because with one treated area its cluster's score for
    treated x post is zero by construction and the robust SE collapses. Both are in the result.
    Returns keys: rate_ratio, ci_low, ci_high, p_value, inference, n_pre, n_post (months),
    n_treated, n_comparison, dispersion, cluster_ci_low/_ci_high/_p, placebo_ci_low/_ci_high/_p,
    n_placebos, dropped_all_zero.
    """
    if inference not in ("auto", "cluster", "placebo"):
        raise ValueError("inference must be 'auto', 'cluster' or 'placebo'")
    treated = [str(i) for i in treated_ids]
    comparison = [str(i) for i in comparison_ids if str(i) not in treated]
    if not treated or not comparison:
        raise InputError("difference_in_differences", "needs at least one treated and one comparison id",
                         "Pass treated_ids and comparison_ids")
    t0 = pd.Timestamp(start_month)
    areas = panel[panel["neighborhood_id"].notna()]
    long = complete_calendar(areas, "MS", ids=treated + comparison, where="panel")
    long = long[long["neighborhood_id"].isin(treated + comparison)]
    totals = long.groupby("neighborhood_id")["value"].sum()
    is_post = long["period_start"] >= t0
    seg = long.groupby(["neighborhood_id", is_post.rename("post")])["value"].sum().unstack(fill_value=0.0)
    if seg.shape[1] < 2 or (seg.reindex(treated).fillna(0.0).sum() == 0).any():
        raise InputError("difference_in_differences", f"the treated areas have no events before or from "
                         f"{t0.date()}, or the start is outside the panel",
                         "A rate ratio needs events in both segments")
    dropped = sorted(i for i in comparison if totals.get(i, 0) == 0)
    comparison = [i for i in comparison if i not in dropped]
    long = long[~long["neighborhood_id"].isin(dropped)].reset_index(drop=True)
    months = long["period_start"].drop_duplicates()
    n_pre, n_post = int((months < t0).sum()), int((months >= t0).sum())
    post = (long["period_start"] >= t0).astype(float)
    is_treated = long["neighborhood_id"].isin(treated).astype(float)
    design = pd.concat([
        pd.Series(1.0, index=long.index, name="const"),
        (is_treated * post).rename("treated_post"),
        pd.get_dummies(long["neighborhood_id"], prefix="area", drop_first=True, dtype=float),
        pd.get_dummies(long["period_start"].dt.strftime("%Y-%m"), prefix="month", drop_first=True, dtype=float),
    ], axis=1)
    offset = None
    if population is not None:
        pop = population.set_index(population["neighborhood_id"].astype("str"))["population"]
        offset = np.log(long["neighborhood_id"].map(pop).astype(float)).to_numpy()
        if not np.isfinite(offset).all():
            raise InputError("population", "missing or non-positive population for a panel area",
                             "Give every treated and comparison area a population")
    groups = pd.factorize(long["neighborhood_id"])[0]
    with threadpool_limits(limits=1, user_api="blas"):  # see _SINGLE_THREAD_NOTE
        fit = sm.GLM(long["value"].to_numpy(dtype=float), design, family=sm.families.Poisson(),
                     offset=offset).fit(cov_type="cluster", cov_kwds={"groups": groups}, use_t=True)
    cluster = _rate_ratio(fit, "treated_post", "cluster", alpha)
    placebo = placebo_inference(seg.drop(index=dropped, errors="ignore"), treated, float(fit.params["treated_post"]),
                                alpha=alpha, draws=placebo_draws, seed=seed)
    use = inference if inference != "auto" else ("cluster" if len(treated) >= MIN_TREATED_CLUSTERS else "placebo")
    if use == "placebo" and placebo["placebo_n"] == 0:
        use = "cluster"
    chosen = {"cluster": (cluster["cluster_ci_low"], cluster["cluster_ci_high"], cluster["cluster_p"]),
              "placebo": (placebo["placebo_ci_low"], placebo["placebo_ci_high"], placebo["placebo_p"])}[use]
    return {
        "rate_ratio": float(np.exp(fit.params["treated_post"])), "ci_low": chosen[0], "ci_high": chosen[1],
        "p_value": chosen[2], "inference": use, "n_pre": n_pre, "n_post": n_post, "n_treated": len(treated),
        "n_comparison": len(comparison), "dispersion": float(fit.pearson_chi2 / fit.df_resid),
        "cluster_ci_low": cluster["cluster_ci_low"], "cluster_ci_high": cluster["cluster_ci_high"],
        "cluster_p": cluster["cluster_p"], **placebo, "dropped_all_zero": dropped,
    }


def placebo_inference(
    segments: pd.DataFrame, treated: Sequence[str], log_rr: float, *, alpha: float = 0.05, draws: int = 199,
    seed: int = 12345,
) -> dict:
    """Return placebo-in-space CI and p for a DiD log rate ratio from pre/post event totals per area.

    ``segments``: index neighborhood_id, columns False (pre) / True (post) event totals. Each
    placebo treats comparison areas (every single one when one area is treated, else ``draws``
    random sets of the same size) as if treated, against the remaining comparison areas, and forms
    the studentised ratio-of-ratios t = log[(Y_post/Y_pre) / (C_post/C_pre)] / sqrt(sum of 1/totals).
    The placebo |t| distribution replaces the normal one (Conley-Taber style), so overdispersion and
    serial correlation in the real data carry into the interval. Returns placebo_ci_low,
    placebo_ci_high, placebo_p and placebo_n (usable placebos).
    """
    pre, post = segments[False].astype(float), segments[True].astype(float)
    treated = [t for t in treated if t in segments.index]
    pool = [i for i in segments.index if i not in treated]
    t_pre, t_post = pre[treated].sum(), post[treated].sum()
    c_pre, c_post = pre[pool].sum(), post[pool].sum()
    se_treated = math.sqrt(1 / t_pre + 1 / t_post + 1 / c_pre + 1 / c_post)
    t_obs = log_rr / se_treated
    p_pre, p_post = pre[pool].to_numpy(), post[pool].to_numpy()
    k = len(treated)
    if k == 1:
        members = np.eye(len(pool), dtype=bool)
    else:
        rng = np.random.default_rng(seed)
        members = np.zeros((draws, len(pool)), dtype=bool)
        for d in range(draws):
            members[d, rng.choice(len(pool), size=min(k, len(pool) - 1), replace=False)] = True
    y_pre, y_post = members @ p_pre, members @ p_post
    r_pre, r_post = p_pre.sum() - y_pre, p_post.sum() - y_post
    ok = (y_pre > 0) & (y_post > 0) & (r_pre > 0) & (r_post > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        t_placebo = np.log((y_post / y_pre) / (r_post / r_pre)) / np.sqrt(1 / y_pre + 1 / y_post + 1 / r_pre + 1 / r_post)
    t_abs = np.abs(t_placebo[ok])
    if t_abs.size == 0:
        return {"placebo_ci_low": np.nan, "placebo_ci_high": np.nan, "placebo_p": np.nan, "placebo_n": 0}
    q = float(np.quantile(t_abs, 1 - alpha, method="higher"))
    return {"placebo_ci_low": math.exp(log_rr - q * se_treated), "placebo_ci_high": math.exp(log_rr + q * se_treated),
            "placebo_p": float((1 + (t_abs >= abs(t_obs)).sum()) / (1 + t_abs.size)), "placebo_n": int(t_abs.size)}


def program_impact(
    programs: pd.DataFrame,
    panel: pd.DataFrame,
    population: pd.DataFrame,
    *,
    comparison_ids: Sequence[str] | None = None,
    metric: str | None = None,
    alpha: float = 0.05,
    min_pre: int = 12,
    min_post: int = 6,
) -> pd.DataFrame:
    """Return one row per program x method ('its', 'did') with the rate ratio, CI, p and segment sizes.

    ``programs``: ``program_id``, ``neighborhood_id``, ``started_on``. ``panel``: long monthly
    counts of one metric. ``population``: ``neighborhood_id``, ``population``. The comparison
    areas default to every panel area with no program starting on or before the panel's last
    month. A program that cannot be estimated (start outside the panel, too few months, no
    events, citywide program for DiD) keeps its row with NaN estimates and the reason in
    ``details.skipped``.
    """
    for col in ("program_id", "neighborhood_id", "started_on"):
        if col not in programs.columns:
            raise InputError("programs", f"missing column {col}", "Pass program_id, neighborhood_id, started_on")
    long = complete_calendar(panel, "MS", where="panel")
    area_ids = sorted(set(long["neighborhood_id"].dropna()))
    last_month = long["period_start"].max()
    pop = population.set_index(population["neighborhood_id"].astype("str"))["population"].astype(float)
    if comparison_ids is None:
        started = pd.to_datetime(programs["started_on"]).map(program_month)
        ever = set(programs.loc[started <= last_month, "neighborhood_id"].dropna().astype("str"))
        comparison_ids = [i for i in area_ids if i not in ever]
    rows = []
    for prog in programs.itertuples(index=False):
        area = None if pd.isna(prog.neighborhood_id) else str(prog.neighborhood_id)
        t0 = program_month(prog.started_on)
        base = {"program_id": prog.program_id, "neighborhood_id": area, "started_on": pd.Timestamp(prog.started_on)}
        info = {"metric": metric, "start_month": t0}
        series = long[long["neighborhood_id"].isna()] if area is None else long[long["neighborhood_id"] == area]
        if area is None and series.empty:
            series = long.groupby("period_start", as_index=False)["value"].sum()
        area_pop = pop.sum() if area is None else pop.get(area, np.nan)
        try:
            its = interrupted_time_series(series[["period_start", "value"]], t0, area_pop, alpha=alpha,
                                          min_pre=min_pre, min_post=min_post)
            rows.append({**base, "method": "its", "estimate": its["level_change_rr"],
                         "ci_low": its["level_change_ci_low"], "ci_high": its["level_change_ci_high"],
                         "p_value": its["level_change_p"], "n_pre": its["n_months_pre"],
                         "n_post": its["n_months_post"], "details": details_json({**info, **its})})
        except InputError as err:
            rows.append(_skipped(base, "its", info, err))
        try:
            if area is None:
                raise InputError("difference_in_differences", "a citywide program has no comparison areas")
            did = difference_in_differences(long, [area], t0, comparison_ids, population=population, alpha=alpha)
            rows.append({**base, "method": "did", "estimate": did["rate_ratio"], "ci_low": did["ci_low"],
                         "ci_high": did["ci_high"], "p_value": did["p_value"], "n_pre": did["n_pre"],
                         "n_post": did["n_post"], "details": details_json({**info, **did})})
        except InputError as err:
            rows.append(_skipped(base, "did", info, err))
    frame = pd.DataFrame(rows, columns=PROGRAM_IMPACT_COLUMNS)
    frame["neighborhood_id"] = frame["neighborhood_id"].astype("object").where(frame["neighborhood_id"].notna(), None)
    for col in ("estimate", "ci_low", "ci_high", "p_value"):
        frame[col] = frame[col].astype(float)
    for col in ("n_pre", "n_post"):
        frame[col] = frame[col].astype("Int64")
    return frame


# ---------------------------------------------------------------------------------------------
def _monthly_series(monthly: pd.DataFrame) -> pd.Series:
    """Return the monthly values indexed by month over a complete calendar (absent months = 0)."""
    if "neighborhood_id" in monthly.columns and monthly["neighborhood_id"].nunique(dropna=False) > 1:
        raise InputError("interrupted_time_series", "monthly holds more than one neighborhood",
                         "Pass one series (filter by neighborhood_id)")
    frame = monthly[["period_start", "value"]].assign(neighborhood_id=None)
    long = complete_calendar(frame, "MS", where="monthly")
    return long.set_index("period_start")["value"]


def _seasonal_terms(months: pd.DatetimeIndex, seasonal: str) -> pd.DataFrame:
    """Return the seasonal design columns for ``months`` (reference month January for dummies)."""
    m = months.month.to_numpy()
    if seasonal == "month":
        return pd.DataFrame({f"month_{k:02d}": (m == k).astype(float) for k in range(2, 13)}, index=months)
    if seasonal == "harmonic":
        cols = {}
        for k in (1, 2):
            cols[f"sin_{k}"] = np.sin(2 * np.pi * k * m / 12)
            cols[f"cos_{k}"] = np.cos(2 * np.pi * k * m / 12)
        return pd.DataFrame(cols, index=months)
    return pd.DataFrame(index=months)


def _log_offset(population, months: pd.DatetimeIndex) -> np.ndarray | None:
    if population is None:
        return None
    if isinstance(population, pd.Series):
        values = population.reindex(months).to_numpy(dtype=float)
    else:
        values = np.full(len(months), float(population))
    if not (np.isfinite(values) & (values > 0)).all():
        raise InputError("population", "missing or non-positive for a month of the series",
                         "Pass a positive population for every month")
    return np.log(values)


def _rate_ratio(fit, term: str, name: str, alpha: float) -> dict:
    """Return exp(coef) with its (1 - alpha) CI and two-sided p (the fit's t or z), keys prefixed by ``name``."""
    low, high = fit.conf_int(alpha=alpha).loc[term]
    return {f"{name}_rr": math.exp(fit.params[term]), f"{name}_ci_low": math.exp(low),
            f"{name}_ci_high": math.exp(high), f"{name}_p": float(fit.pvalues[term])}


def _skipped(base: dict, method: str, info: dict, err: InputError) -> dict:
    return {**base, "method": method, "estimate": np.nan, "ci_low": np.nan, "ci_high": np.nan,
            "p_value": np.nan, "n_pre": None, "n_post": None,
            "details": details_json({**info, "skipped": str(err)})}

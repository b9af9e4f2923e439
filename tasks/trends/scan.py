"""Prospective space-time permutation scan statistic (Kulldorff et al. 2005, SaTScan's model): clusters.

Input is a daily count matrix ``counts`` (areas x days: the study window, last column = the day
of the analysis). With C cases in the window, area totals N_z and day totals N_d, the expected
count of a cylinder A (a zone of areas x the last l days) is mu_A = (sum_{z in A} N_z) *
(sum_{d in A} N_d) / C, and its log-likelihood ratio, for c_A > mu_A, is

    LLR = c_A ln(c_A / mu_A) + (C - c_A) ln((C - c_A) / (C - mu_A))

(the Poisson approximation of the generalized likelihood ratio). Zones (``scan_design``) are
connected sets of adjacent areas grown from each centre by centroid distance; time windows end on
the last day and last 1..L days, L = min(max_days, half the window). The most likely cluster has
the largest LLR; secondary clusters are the next best cylinders sharing no area with a better one
(SaTScan's "no geographical overlap"). Every p-value compares a cluster's LLR with the maximum
LLR of each of ``permutations`` data sets in which the cases' days are randomly permuted
(SaTScan's rule, conservative for secondary clusters): p = (1 + #{null max >= LLR}) / (R + 1).
The recurrence interval of a daily analysis is 1/p days.

The null maxima depend only on the design, the window's margins (area and day totals) and L, so
``null_max_llr`` can be computed once per study window and passed to ``scan_clusters`` as
``null`` for many variants of the same window (e.g. a benchmark's injected outbreaks).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from schemas.errors import InputError
from tasks.trends.adjacency import area_weights, projected_centroids, valid_polygons

CLUSTER_COLUMNS = ["rank", "centre_id", "member_ids", "n_areas", "start", "end", "n_days", "observed",
                   "expected", "relative_risk", "llr", "p_value", "p_gumbel", "recurrence_interval"]
_CHUNK = 64  # permutations per vectorised block: ~1.5M cylinders, a few MB per array


@dataclass(frozen=True)
class ScanDesign:
    """Candidate zones: ``order[c, :k+1]`` are the areas of zone (c, k), grown from centre c.

    ``order`` holds area indices into ``area_ids`` padded with ``len(area_ids)`` (a row of zeros);
    ``valid[c, k]`` says zone (c, k) is a candidate (it exists and is within the size caps).
    """

    area_ids: tuple[str, ...]
    order: np.ndarray
    valid: np.ndarray
    rule: str

    @property
    def n_areas(self) -> int:
        return len(self.area_ids)

    def members(self, centre: int, k: int) -> list[str]:
        return [self.area_ids[i] for i in self.order[centre, :k + 1]]


@dataclass(frozen=True)
class ScanSettings:
    """The scan's parameters (defaults: docs in /work/notes/scan_methods.md)."""

    max_days: int = 14  # longest time window; capped at half the study window
    min_days: int = 1
    permutations: int = 999
    seed: int = 12345
    min_cases: int = 2  # a cluster needs at least this many observed cases (SaTScan's default)
    max_clusters: int = 10  # most likely + secondary clusters reported at most
    report_p: float = 0.5  # secondary clusters with a larger p are not reported

    def window(self, n_days: int) -> int:
        """Return L, the longest time window for a study window of ``n_days`` days."""
        return max(1, min(self.max_days, n_days // 2))


def scan_design(
    area_ids: Iterable[str],
    neighbors: Mapping[str, Iterable[str]],
    centroids: np.ndarray,
    *,
    max_areas: int = 10,
    max_area_share: float = 0.5,
    population: np.ndarray | None = None,
    max_population_share: float | None = None,
) -> ScanDesign:
    """Return the candidate zones: per centre, nested connected zones of up to ``max_areas`` areas.

    Window rule: zone (c, 0) is centre c; zone (c, k) adds to zone (c, k-1) the area nearest to c
    (centroid distance, ties by position) among the areas adjacent to the zone, so every zone is
    connected in ``neighbors`` (a circle SaTScan-style, skipping areas not yet reachable). A zone
    holds at most min(max_areas, max_area_share * n) areas (at least 1) and, with ``population``
    and ``max_population_share``, at most that share of the population (single areas always).
    """
    ids = [str(i) for i in area_ids]
    n = len(ids)
    index = {a: i for i, a in enumerate(ids)}
    xy = np.asarray(centroids, dtype=float)
    if xy.shape != (n, 2):
        raise InputError("scan design", f"centroids have shape {xy.shape}, expected ({n}, 2)",
                         "Pass one (x, y) per area, in area order")
    adj = [sorted({index[str(j)] for j in neighbors.get(a, ()) if str(j) in index} - {i})
           for i, a in enumerate(ids)]
    k_max = max(1, min(int(max_areas), int(max_area_share * n)))
    order = np.full((n, k_max), n, dtype=np.int64)
    for c in range(n):
        dist = np.hypot(*(xy - xy[c]).T)
        zone, frontier = [c], set(adj[c])
        while len(zone) < k_max and frontier:
            nxt = min(frontier, key=lambda j: (dist[j], j))
            zone.append(nxt)
            frontier = (frontier | set(adj[nxt])) - set(zone)
        order[c, :len(zone)] = zone
    valid = order < n
    if population is not None and max_population_share is not None:
        pop = np.append(np.nan_to_num(np.asarray(population, dtype=float)), 0.0)
        cum = np.cumsum(pop[order], axis=1)
        valid &= (cum <= max_population_share * pop.sum()) | (np.arange(k_max) == 0)
    rule = (f"connected nearest-neighbour zones, <= {k_max} areas"
            + (f", <= {max_population_share:.0%} of population" if max_population_share is not None else ""))
    return ScanDesign(tuple(ids), order, valid, rule)


def null_max_llr(counts: np.ndarray, design: ScanDesign, settings: ScanSettings = ScanSettings()) -> np.ndarray:
    """Return the sorted maximum LLR of each of ``settings.permutations`` date-permuted data sets.

    Permuting the cases' days keeps every area total and day total. Only which cases land in the
    last L days matters: their area mix is multivariate hypergeometric (area totals, S cases), and
    their days are a random shuffle of the last L days' cases. Seeded by ``settings.seed``.
    """
    x = _checked(counts, design)
    n_days = x.shape[1]
    window = settings.window(n_days)
    tail = x[:, n_days - window:][:, ::-1]  # lag 0 = the last day
    day_tail = tail.sum(axis=0).astype(np.int64)
    s = int(day_tail.sum())
    area_totals = x.sum(axis=1).astype(np.int64)
    consts = _Window.of(area_totals, day_tail, design, settings)
    rng = np.random.default_rng(settings.seed)
    out = np.empty(settings.permutations)
    lag_of_slot = np.repeat(np.arange(window), day_tail)
    n = design.n_areas
    for lo in range(0, settings.permutations, _CHUNK):
        p = min(_CHUNK, settings.permutations - lo)
        if s == 0:
            out[lo:lo + p] = 0.0
            continue
        mix = rng.multivariate_hypergeometric(area_totals, s, size=p)  # (p, n) cases in the tail
        labels = np.repeat(np.tile(np.arange(n), p), mix.ravel()).reshape(p, s)
        labels = rng.permuted(labels, axis=1)
        flat = (np.arange(p)[:, None] * n + labels) * window + lag_of_slot[None, :]
        binned = np.bincount(flat.ravel(), minlength=p * n * window).reshape(p, n, window)
        llr = consts.llr(_zone_counts(binned, design), settings.min_cases)
        out[lo:lo + p] = llr.reshape(p, -1).max(axis=1)
    return np.sort(out)


def scan_clusters(
    counts: np.ndarray,
    design: ScanDesign,
    settings: ScanSettings = ScanSettings(),
    null: np.ndarray | None = None,
) -> pd.DataFrame:
    """Return the most likely and secondary clusters, one row each (``CLUSTER_COLUMNS``), best first.

    ``start``/``end`` are column indices into ``counts`` (``end`` is always the last column);
    ``member_ids`` a tuple of area ids, centre first. ``null`` (from ``null_max_llr`` on the same
    study window and settings) skips the permutations. Empty when no cylinder has c > mu.
    """
    x = _checked(counts, design)
    n_days = x.shape[1]
    cz, mu, llr = _observed(x, design, settings)
    if null is None:
        null = null_max_llr(x, design, settings)
    gumbel = _gumbel(null)
    rows, taken = [], set()
    for flat in np.argsort(-llr, axis=None, kind="stable"):
        c, k, lag = np.unravel_index(flat, llr.shape)
        value = llr[c, k, lag]
        if value <= 0 or len(rows) >= settings.max_clusters:
            break
        members = design.members(int(c), int(k))
        if taken.intersection(members):
            continue
        p = (1.0 + np.count_nonzero(null >= value)) / (len(null) + 1.0)
        if rows and p > settings.report_p:
            break
        taken.update(members)
        obs, exp = float(cz[c, k, lag]), float(mu[c, k, lag])
        rows.append({"rank": len(rows) + 1, "centre_id": members[0], "member_ids": tuple(members),
                     "n_areas": len(members), "start": n_days - 1 - int(lag), "end": n_days - 1,
                     "n_days": int(lag) + 1, "observed": obs, "expected": exp, "relative_risk": obs / exp,
                     "llr": float(value), "p_value": p, "p_gumbel": gumbel(value), "recurrence_interval": 1.0 / p})
    return pd.DataFrame(rows, columns=CLUSTER_COLUMNS)


def cylinders(counts: np.ndarray, design: ScanDesign, settings: ScanSettings = ScanSettings()) -> pd.DataFrame:
    """Return every candidate cylinder: centre_id, member_ids, n_days, observed, expected, llr (0 if c <= mu)."""
    x = _checked(counts, design)
    cz, mu, llr = _observed(x, design, settings)
    c, k, lag = np.nonzero(np.broadcast_to(design.valid[:, :, None], llr.shape))
    return pd.DataFrame({
        "centre_id": [design.area_ids[i] for i in c],
        "member_ids": [tuple(design.members(int(i), int(j))) for i, j in zip(c, k)],
        "n_days": lag + 1, "observed": cz[c, k, lag].astype(float), "expected": mu[c, k, lag], "llr": llr[c, k, lag],
    })


def polygon_design(gdf, id_field: str = "neighborhood_id", weights=None, **caps) -> ScanDesign:
    """Return ``scan_design`` over polygons: adjacency from ``area_weights`` (islands attached per
    ``weights``), centroids projected to metres; ``caps`` are scan_design's size caps."""
    w = area_weights(gdf, id_field, weights)
    return scan_design(w.id_order, w.neighbors, projected_centroids(valid_polygons(gdf)), **caps)


@dataclass
class ProspectiveScan:
    """The scan on any end day of a long (areas x days) matrix, null maxima cached per block of end days.

    ``baseline`` is the un-injected history. ``clusters(end, counts)`` scans the ``study_days``
    ending at column ``end`` of ``counts`` (default: the baseline; a benchmark passes a copy with
    an injected outbreak) against the null maxima of the *baseline* window ending at the first end
    day of ``end``'s block of ``refresh_days`` days. With refresh_days = 1 the null is exact for the
    baseline; for injected data it is the un-injected window's null (an approximation: a few dozen
    injected cases barely move the margins of a 12,000-case window; measured in the notes).
    """

    baseline: np.ndarray
    design: ScanDesign
    settings: ScanSettings = ScanSettings()
    study_days: int = 365
    refresh_days: int = 1

    def __post_init__(self) -> None:
        self.baseline = _checked(self.baseline, self.design)
        self._nulls: dict[int, np.ndarray] = {}

    def window(self, end: int, counts: np.ndarray | None = None) -> np.ndarray:
        """Return the study window of ``counts`` (default baseline) ending at column ``end``."""
        x = self.baseline if counts is None else counts
        if not 0 <= end < x.shape[1]:
            raise InputError("prospective scan", f"end day {end} is outside 0..{x.shape[1] - 1}", "Pass a column index")
        return x[:, max(0, end - self.study_days + 1): end + 1]

    def null(self, end: int) -> np.ndarray:
        """Return (cached) null maxima for ``end``'s block, computed on the baseline window."""
        first = self.study_days - 1
        anchor = end if end <= first else end - (end - first) % self.refresh_days
        if anchor not in self._nulls:
            self._nulls[anchor] = null_max_llr(self.window(anchor), self.design, self.settings)
        return self._nulls[anchor]

    def clusters(self, end: int, counts: np.ndarray | None = None) -> pd.DataFrame:
        """Return ``scan_clusters`` for the window ending at ``end``; start/end as columns of the full matrix."""
        x = self.window(end, counts)
        found = scan_clusters(x, self.design, self.settings, null=self.null(end))
        offset = end + 1 - x.shape[1]
        return found.assign(start=found["start"] + offset, end=found["end"] + offset)


# ---------------------------------------------------------------------------------------------
def _checked(counts: np.ndarray, design: ScanDesign) -> np.ndarray:
    x = np.asarray(counts, dtype=float)
    if x.ndim != 2 or x.shape[0] != design.n_areas:
        raise InputError("scan counts", f"shape {x.shape} is not ({design.n_areas} areas, days)",
                         "Pass one row per design area, one column per day")
    if x.shape[1] < 2:
        raise InputError("scan counts", f"covers {x.shape[1]} day(s)", "Pass a study window of at least 2 days")
    bad = ~np.isfinite(x) | (x < 0) | (x != np.round(x))
    if bad.any():
        a, d = np.argwhere(bad)[0]
        raise InputError(f"scan counts area {design.area_ids[a]} day {d}", f"value {x[a, d]!r} is not a count",
                         "Pass whole, non-negative counts")
    return x


def _observed(x: np.ndarray, design: ScanDesign, settings: ScanSettings):
    """Zone counts, expected counts and LLR (each centres x K x L) of the observed window."""
    window = settings.window(x.shape[1])
    tail = x[:, x.shape[1] - window:][:, ::-1]  # lag 0 = the last day
    consts = _Window.of(x.sum(axis=1).astype(np.int64), tail.sum(axis=0).astype(np.int64), design, settings)
    cz = _zone_counts(tail[None], design)[0]
    return cz, consts.mu, consts.llr(cz[None], settings.min_cases)[0]


def _zone_counts(tail: np.ndarray, design: ScanDesign) -> np.ndarray:
    """(P, n, L) counts per area and lag -> (P, centres, K, L) counts per zone in the last l+1 days."""
    cum_days = np.cumsum(np.asarray(tail, dtype=np.int64), axis=2)
    padded = np.concatenate([cum_days, np.zeros_like(cum_days[:, :1])], axis=1)
    return np.cumsum(padded[:, design.order, :], axis=2)


@dataclass(frozen=True)
class _Window:
    """Per study window constants of the LLR: mu, ln mu, ln(C - mu), candidate mask, x ln x table."""

    mu: np.ndarray
    log_mu: np.ndarray
    log_out: np.ndarray
    candidate: np.ndarray
    total: int
    xlogx: np.ndarray

    @classmethod
    def of(cls, area_totals, day_tail, design: ScanDesign, settings: ScanSettings) -> _Window:
        total = int(np.sum(area_totals))
        mu = _expected(area_totals, day_tail, design)
        lags = np.arange(mu.shape[-1])
        candidate = design.valid[:, :, None] & (lags >= settings.min_days - 1)[None, None, :] & (mu > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            # Finite stand-ins where mu = 0 or mu = C: those cylinders are never candidates (c > mu fails).
            log_mu = np.where(mu > 0, np.log(mu), 0.0)
            log_out = np.where(total - mu > 0, np.log(total - mu), 0.0)
            k = np.arange(total + 1, dtype=float)
            xlogx = np.where(k > 0, k * np.log(k), 0.0)
        return cls(mu, log_mu, log_out, candidate, total, xlogx)

    def llr(self, c: np.ndarray, min_cases: int) -> np.ndarray:
        """Poisson-approximated LLR of zone counts ``c`` (P, centres, K, L); 0 where c <= mu or c < min_cases.

        c ln(c/mu) + (C-c) ln((C-c)/(C-mu)) = xlogx[c] - c ln mu + xlogx[C-c] - (C-c) ln(C-mu):
        integer counts make both x ln x terms table look-ups, the costly part of 999 permutations.
        """
        ok = (c > self.mu) & (c >= min_cases) & self.candidate
        rest = self.total - c
        value = self.xlogx[c] - c * self.log_mu + self.xlogx[rest] - rest * self.log_out
        return np.where(ok, value, 0.0)


def _expected(area_totals: np.ndarray, day_tail: np.ndarray, design: ScanDesign) -> np.ndarray:
    """(centres, K, L) expected counts mu = N_zone * N_window / C (zero when C = 0)."""
    total = float(np.sum(area_totals))
    if total == 0:
        return np.zeros((*design.order.shape, len(day_tail)))
    zone = np.cumsum(np.append(np.asarray(area_totals, dtype=float), 0.0)[design.order], axis=1)
    return zone[:, :, None] * np.cumsum(np.asarray(day_tail, dtype=float))[None, None, :] / total


def _gumbel(null: np.ndarray):
    """Return LLR -> Gumbel-approximated p from the null maxima (Abrams et al. 2010), or NaN if degenerate."""
    if len(null) < 10 or np.std(null) == 0:
        return lambda value: float("nan")
    loc, scale = stats.gumbel_r.fit(null)
    return lambda value: float(stats.gumbel_r.sf(value, loc, scale))

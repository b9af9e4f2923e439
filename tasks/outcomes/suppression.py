"""Small-cell suppression for analyst-facing outcome marts.

Rule: a count in 1..threshold is never shown (0 is shown: "nobody" discloses no one). A value
computed from a suppressed count (a rate, a ratio, its interval) is suppressed with it. A
complement that readers could compute from two shown counts (total - part, e.g. participants
who were *not* re-arrested) is checked by the same rule, and both counts are hidden when it fails.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

SUPPRESSED_FLAG = "is_suppressed"


def is_small(values: pd.Series, threshold: int) -> pd.Series:
    """Return True where a count is in 1..threshold (null counts are not small)."""
    v = pd.to_numeric(values, errors="coerce")
    return ((v >= 1) & (v <= threshold)).fillna(False).astype(bool)


def suppress_small_cells(frame: pd.DataFrame, counts: Sequence[str], threshold: int,
                         dependents: Mapping[str, Sequence[str]] | None = None,
                         complements: Sequence[tuple[str, str]] = ()) -> pd.DataFrame:
    """Return a copy with small counts (and what depends on them) set to null, plus ``is_suppressed``.

    ``counts``: count columns checked. ``dependents``: count -> columns derived from it.
    ``complements``: (total, part) pairs whose difference must not be small either.
    Counts come back as nullable Int64.
    """
    if threshold < 0:
        raise ValueError("threshold must be >= 0")
    out = frame.copy()
    hide = {c: is_small(out[c], threshold) for c in counts}
    for total, part in complements:
        diff = is_small(pd.to_numeric(out[total], errors="coerce") - pd.to_numeric(out[part], errors="coerce"),
                        threshold)
        hide[total] = hide.get(total, False) | diff
        hide[part] = hide.get(part, False) | diff
    any_hidden = pd.Series(False, index=out.index)
    for col, mask in hide.items():
        out[col] = pd.to_numeric(out[col], errors="coerce").astype("Int64").mask(mask)
        for dep in (dependents or {}).get(col, ()):
            out[dep] = out[dep].mask(mask)
        any_hidden |= mask
    out[SUPPRESSED_FLAG] = any_hidden.astype(bool)
    return out


def has_small_cells(frame: pd.DataFrame, counts: Sequence[str], threshold: int) -> bool:
    """Return True if any listed count column holds a value in 1..threshold (for tests and checks)."""
    return any(is_small(frame[c], threshold).any() for c in counts if c in frame.columns)

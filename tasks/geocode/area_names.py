"""Match a source's own area *names* to the boundary file's areas (ids).

Sources spell community areas their own way: the examiner archive writes ``OHARE`` and upper
case, the Health Atlas ``O'Hare`` in title case, others ``Lakeview`` or ``The Loop``. Names are
compared after ``normalize_area_name`` (upper case, accents, apostrophes, dots and hyphens
removed, ``&`` -> ``AND``, spaces collapsed) and a small alias table; anything else is reported
unmatched rather than guessed.
"""
from __future__ import annotations

import unicodedata
from collections.abc import Mapping

import pandas as pd

# Other spelling -> boundary-file name, for names that are the same area under another spelling.
# No fuzzy matching: it would join e.g. "NORTH PARK" and "NORTH CENTER", and sub-neighborhoods
# ("Back of the Yards" lies in New City) are not community areas.
CHICAGO_ALIASES: Mapping[str, str] = {
    "THE LOOP": "LOOP",
    "LAKEVIEW": "LAKE VIEW",
    "OHARE AIRPORT": "OHARE",
}
MATCH_COLUMNS = ["neighborhood_id", "matched_name", "match"]


def normalize_area_name(name: object) -> str | None:
    """Return the comparable form of an area name (``O'Hare`` -> ``OHARE``), None when empty."""
    if name is None or (isinstance(name, float) and pd.isna(name)) or name is pd.NA:
        return None
    text = unicodedata.normalize("NFKD", str(name))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).upper()
    for gone in ("'", "\u2019", "`", "."):
        text = text.replace(gone, "")
    text = text.replace("&", " AND ").replace("-", " ").replace("_", " ")
    text = " ".join(text.split())
    return text or None


def match_area_names(names: pd.Series, neighborhoods: pd.DataFrame,
                     aliases: Mapping[str, str] = CHICAGO_ALIASES) -> pd.DataFrame:
    """Return per input name (same index): ``neighborhood_id``, ``matched_name`` (the boundary
    file's spelling) and ``match`` (``exact``, ``normalized``, ``alias``, or null when unmatched
    or empty). ``neighborhoods`` needs ``neighborhood_id`` and ``name`` columns."""
    table = pd.DataFrame({"neighborhood_id": neighborhoods["neighborhood_id"].astype("str"),
                          "name": neighborhoods["name"].astype("str")})
    table["norm"] = table["name"].map(normalize_area_name)
    clashes = table["norm"][table["norm"].duplicated()]
    if len(clashes):
        raise ValueError(f"boundary names collide after normalizing: {sorted(set(clashes))}")
    by_norm = table.set_index("norm")
    by_exact = dict(zip(table["name"], table["neighborhood_id"]))
    alias_norm = {normalize_area_name(k): normalize_area_name(v) for k, v in aliases.items()}
    distinct = pd.Series(names.dropna().unique())
    rows = {}
    for raw in distinct:
        text = str(raw).strip()
        norm = normalize_area_name(text)
        if text in by_exact:
            nid, how = by_exact[text], "exact"
        elif norm in by_norm.index:
            nid, how = by_norm.at[norm, "neighborhood_id"], "normalized"
        elif alias_norm.get(norm) in by_norm.index:
            nid, how = by_norm.at[alias_norm[norm], "neighborhood_id"], "alias"
        else:
            nid, how = None, None
        rows[raw] = (nid, None if nid is None else table.loc[table["neighborhood_id"] == nid, "name"].iat[0], how)
    found = pd.DataFrame.from_dict(rows, orient="index", columns=MATCH_COLUMNS) if rows else \
        pd.DataFrame(columns=MATCH_COLUMNS)
    out = found.reindex(names.to_numpy(object)) if len(found) else pd.DataFrame(index=range(len(names)), columns=MATCH_COLUMNS)
    out.index = names.index
    return out.astype("str")


def unmatched_names(names: pd.Series, neighborhoods: pd.DataFrame,
                    aliases: Mapping[str, str] = CHICAGO_ALIASES) -> pd.DataFrame:
    """Return one row per distinct non-empty name that matched no area: ``name``, ``n_rows``."""
    matched = match_area_names(names, neighborhoods, aliases)
    bad = names.notna() & matched["neighborhood_id"].isna()
    counts = names[bad].value_counts()
    return pd.DataFrame({"name": counts.index.astype("str"), "n_rows": counts.to_numpy(dtype="int64")})

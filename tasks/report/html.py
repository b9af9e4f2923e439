"""Small HTML builders every part of the report uses: a section card, a table, a place name."""
from __future__ import annotations

import math
from collections.abc import Mapping
from html import escape


def section(title: str, inner: str, note: str = "") -> str:
    return (f"<section class='card'><h2>{escape(title)}</h2>{inner}"
            + (f"<p class='note'>{note}</p>" if note else "") + "</section>")


def table(header: list[str], rows: list[list[str]], numeric: set[int]) -> str:
    """Return an HTML table; cells are HTML already (escape text before), header text is escaped here."""
    th = "".join(f"<th class='{'num' if i in numeric else ''}'>{escape(h)}</th>" for i, h in enumerate(header))
    body = "".join("<tr>" + "".join(f"<td class='{'num' if i in numeric else ''}'>{c}</td>" for i, c in enumerate(r))
                   + "</tr>" for r in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def place(key, names: Mapping[str, str], area_ids: str = "") -> str:
    """Return the escaped name of an area, a region/cluster (its members) or 'Citywide'."""
    if key is None or (isinstance(key, float) and math.isnan(key)):
        return "Citywide"
    members = [a for a in (area_ids or "").split(",") if a]
    if len(members) > 1:
        shown = [names.get(a, a) for a in members[:4]]
        return escape(" + ".join(shown) + (f" + {len(members) - 4} more" if len(members) > 4 else ""))
    return escape(names.get(str(key), str(key)))


def num(v, digits: int = 0) -> str:
    return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{float(v):,.{digits}f}"

"""Parse and normalize free-text US street addresses into canonical Chicago-style keys.

Parsing is done by ``usaddress`` (a CRF tagger); this module only cleans the text before
tagging (masked police blocks, intersection separators) and maps the tagged parts to the
spelling of the City of Chicago street tables: upper case, USPS suffix abbreviations,
one-letter directionals, ordinal street names (``63 -> 63RD``).

Canonical keys:

- house: ``3201 W FILLMORE ST``
- block: ``032XX W FILLMORE ST`` (the 3200 block; the police data's own spelling)
- intersection: ``N ABERDEEN ST & W ANCONA ST`` (the two streets sorted, so order is irrelevant)
"""
from __future__ import annotations

import re
from dataclasses import dataclass, fields
from functools import lru_cache

import pandas as pd
import usaddress

KINDS = ("house", "block", "intersection")

DIRECTIONS = {
    "N": "N", "NORTH": "N", "S": "S", "SOUTH": "S", "E": "E", "EAST": "E", "W": "W", "WEST": "W",
    "NE": "NE", "NORTHEAST": "NE", "NW": "NW", "NORTHWEST": "NW",
    "SE": "SE", "SOUTHEAST": "SE", "SW": "SW", "SOUTHWEST": "SW",
}

# USPS Publication 28, appendix C1 (the suffixes that occur in Chicago's street table plus
# the common long forms). Unknown suffixes are kept as written, upper-cased.
SUFFIXES = {
    "AV": "AVE", "AVE": "AVE", "AVEN": "AVE", "AVENU": "AVE", "AVENUE": "AVE", "AVN": "AVE",
    "AVNUE": "AVE", "ST": "ST", "STR": "ST", "STRT": "ST", "STREET": "ST", "BLVD": "BLVD",
    "BOUL": "BLVD", "BOULEVARD": "BLVD", "BOULV": "BLVD", "BLV": "BLVD", "RD": "RD",
    "ROAD": "RD", "DR": "DR", "DRIV": "DR", "DRIVE": "DR", "DRV": "DR", "PL": "PL",
    "PLACE": "PL", "CT": "CT", "COURT": "CT", "PKWY": "PKWY", "PARKWAY": "PKWY",
    "PARKWY": "PKWY", "PKY": "PKWY", "TER": "TER", "TERR": "TER", "TERRACE": "TER",
    "LN": "LN", "LANE": "LN", "HWY": "HWY", "HIGHWAY": "HWY", "HIGHWY": "HWY", "HIWAY": "HWY",
    "EXPY": "EXPY", "EXPRESSWAY": "EXPY", "EXPW": "EXPY", "EXP": "EXPY", "PLZ": "PLZ",
    "PLAZA": "PLZ", "PLZA": "PLZ", "SQ": "SQ", "SQUARE": "SQ", "WAY": "WAY", "WY": "WAY",
    "ROW": "ROW", "CRES": "CRES", "CRESCENT": "CRES", "CIR": "CIR", "CIRCLE": "CIR",
    "TRL": "TRL", "TRAIL": "TRL", "ALY": "ALY", "ALLEY": "ALY", "PARK": "PARK", "WALK": "WALK",
    "HTS": "HTS", "HEIGHTS": "HTS", "TOLL": "TOLL", "TOLLWAY": "TOLL",
}

# NOTE: masked police addresses look like "032XX W FILLMORE ST" (3200 block) or
# "0000X W MADISON ST" (0 block): the digits times 10 per X give the block start.
_MASKED = re.compile(r"^\s*(\d+)(X{1,3})\b", re.IGNORECASE)
_BLOCK_OF = re.compile(r"^\s*(\d+)\s+(?:BLOCK|BLK)(?:\s+OF)?\b\.?", re.IGNORECASE)
# Separators usaddress does not split on ("/", "@") or reads as a street word ("AT").
_SEPARATORS = re.compile(r"(?<=[A-Z.])\s*/\s*(?=[A-Z0-9])|\s+@\s+|\s+AT\s+|\s+AND\s+", re.IGNORECASE)
_DIGITS = re.compile(r"\d+")
_ZIP = re.compile(r"^\s*(\d{5})")
MAX_LENGTH = 200  # longer free text is a note, not an address


def _missing(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and value != value)


@dataclass(frozen=True)
class NormalizedAddress:
    """One parsed address: a house, a masked block or an intersection of two streets."""

    kind: str
    number: int | None
    predir: str | None
    name: str
    suffix: str | None
    postdir: str | None = None
    unit: str | None = None
    cross_predir: str | None = None
    cross_name: str | None = None
    cross_suffix: str | None = None
    cross_postdir: str | None = None
    zip: str | None = None
    key: str = ""

    @property
    def street(self) -> str:
        return street_key(self.predir, self.name, self.suffix, self.postdir)

    @property
    def cross_street(self) -> str | None:
        if self.cross_name is None:
            return None
        return street_key(self.cross_predir, self.cross_name, self.cross_suffix, self.cross_postdir)


class Unparseable(ValueError):
    """Raised inside this module only; callers get a row with ``parse_reason`` instead."""


def street_key(predir: str | None, name: str, suffix: str | None, postdir: str | None = None) -> str:
    """Return the canonical street spelling, e.g. ``W FILLMORE ST``."""
    return " ".join(p for p in (predir, name, suffix, postdir) if p)


def ordinal(n: int) -> str:
    """Return ``63RD`` for 63: the spelling of numbered streets in Chicago's tables."""
    if 10 <= n % 100 <= 20:
        return f"{n}TH"
    return f"{n}{ {1: 'ST', 2: 'ND', 3: 'RD'}.get(n % 10, 'TH')}"


def block_key(number: int, street: str) -> str:
    """Return the police spelling of a block, e.g. ``032XX W FILLMORE ST`` for 3200."""
    return f"{number // 100:03d}XX {street}"


def _clean_token(text: str | None) -> str:
    return " ".join((text or "").upper().replace(".", " ").replace(",", " ").split())


def _direction(text: str | None) -> str | None:
    token = _clean_token(text)
    return DIRECTIONS.get(token.replace(" ", "")) if token else None


def _suffix(text: str | None) -> str | None:
    token = _clean_token(text).replace(" ", "")
    return SUFFIXES.get(token, token) if token else None


def _name(text: str | None, pretype: str | None = None, has_predir: bool = False) -> tuple[str | None, str]:
    """Return (leading direction the tagger left inside the name, canonical name)."""
    words = _clean_token(text).split()
    lead = None
    # NOTE: the tagger reads "W ANCONA" after "&" as one name; "SOUTH SHORE" is a real name.
    if not has_predir and len(words) > 1 and words[0] in ("N", "S", "E", "W"):
        lead = words.pop(0)
    if words and words[0] == "SAINT":
        words[0] = "ST"
    # NOTE: "63 ST" and "63RD ST" both occur; the street tables always spell the ordinal.
    words = [ordinal(int(w)) if w.isdigit() else w for w in words]
    if pretype:  # "AVENUE O" is a name with the type in front, not a suffix
        words = [_clean_token(pretype)] + words
    return lead, " ".join(words)


def _street(parts: dict[str, str], prefix: str = "") -> tuple[str | None, str, str | None, str | None]:
    predir = _direction(parts.get(f"{prefix}StreetNamePreDirectional"))
    lead, name = _name(parts.get(f"{prefix}StreetName"), parts.get(f"{prefix}StreetNamePreType"), bool(predir))
    if not name:
        raise Unparseable("no street name")
    predir = predir or lead
    suffix = _suffix(parts.get(f"{prefix}StreetNamePostType"))
    postdir = _direction(parts.get(f"{prefix}StreetNamePostDirectional"))
    letter = postdir or _clean_token(parts.get("OccupancyIdentifier"))
    if predir is None and name in ("N", "S", "E", "W") and suffix == "AVE" and len(letter) == 1 and not prefix:
        # NOTE: the tagger reads Chicago's lettered avenues ("S AVENUE B", "S AVENUE N") as
        # name S, type AVENUE and a unit B or a post-direction N.
        return name, f"AVENUE {letter}", None, None
    return predir, name, suffix, postdir


def _prepare(text: str) -> tuple[str, str | None, int | None]:
    """Return (text for the tagger, kind hint, block start) after police-style pre-cleaning."""
    text = " ".join(str(text).split())
    for pattern in (_MASKED, _BLOCK_OF):
        match = pattern.match(text)
        if match:
            digits = match.group(1)
            start = int(digits) * (10 ** len(match.group(2)) if pattern is _MASKED else 1)
            start -= start % 100
            return f"{start} {text[match.end():].strip()}", "block", start
    return _SEPARATORS.sub(" & ", text), None, None


def _street_alone(text: str) -> tuple[str | None, str, str | None, str | None]:
    """Return the parts of a street written alone (one side of an intersection)."""
    # A house number in front makes the tagger read the rest as a street, not a name.
    try:
        parts, _ = usaddress.tag("1 " + text)
    except usaddress.RepeatedLabelError:
        raise Unparseable("parser could not label the text") from None
    if "StreetName" not in parts:
        words = _clean_token(text).split()
        if len(words) != 1:  # a bare "63rd" is tagged as a unit number
            raise Unparseable("no street name")
        parts = {"StreetName": words[0]}
    return _street(parts)


def _intersection(first: tuple, second: tuple, unit: str | None, zip_code: str | None) -> NormalizedAddress:
    a, b = sorted([street_key(*first), street_key(*second)])
    return NormalizedAddress("intersection", None, *first, unit, *second, zip=zip_code, key=f"{a} & {b}")


@lru_cache(maxsize=200_000)
def _normalize(text: str) -> NormalizedAddress:
    if len(text) > MAX_LENGTH:
        raise Unparseable(f"longer than {MAX_LENGTH} characters")
    prepared, hint, block_start = _prepare(text)
    if not prepared.strip() or not re.search(r"[A-Za-z]", prepared):
        raise Unparseable("empty" if not prepared.strip() else "no street name")
    try:
        parts, address_type = usaddress.tag(prepared)
    except usaddress.RepeatedLabelError:
        raise Unparseable("parser could not label the text") from None
    if address_type == "PO Box" or "USPSBoxID" in parts:
        raise Unparseable("PO box, not a street address")
    zip_match = _ZIP.match(parts.get("ZipCode", ""))
    zip_code = zip_match.group(1) if zip_match else None
    unit = " ".join(filter(None, (parts.get("OccupancyType"), parts.get("OccupancyIdentifier"))))
    unit = _clean_token(unit) or None
    if address_type == "Intersection" or "SecondStreetName" in parts:
        return _intersection(_street(parts), _street(parts, "Second"), unit, zip_code)
    if prepared.count("&") == 1 and "AddressNumber" not in parts:
        # NOTE: the tagger reads bare "Halsted & Madison" as a person's name (Recipient).
        left, right = prepared.split("&")
        return _intersection(_street_alone(left), _street_alone(right), None, zip_code)
    if unit and len(unit) == 1:
        unit = None  # the letter of a lettered avenue (see _street)
    number_text = parts.get("AddressNumber")
    digits = _DIGITS.search(number_text or "")
    if not digits:
        raise Unparseable("no house number or cross street")
    number = int(digits.group())
    street = _street(parts)
    if hint == "block":
        return NormalizedAddress(
            "block", block_start, *street, unit, zip=zip_code, key=block_key(block_start, street_key(*street))
        )
    return NormalizedAddress(
        "house", number, *street, unit, zip=zip_code, key=f"{number} {street_key(*street)}"
    )


def explain_unparseable(text: object) -> str | None:
    """Return why ``text`` cannot be normalized, or None when it can."""
    return _row(None if _missing(text) else str(text))["parse_reason"]


def normalize_address(text: object) -> NormalizedAddress | None:
    """Return the normalized address for one free-text address, or None when unparseable."""
    if _missing(text):
        return None
    try:
        return _normalize(str(text))
    except Unparseable:
        return None
    except Exception:  # noqa: BLE001 - the tagger must never take a batch down with it
        return None


PARSED_COLUMNS = [
    "is_parsed", "parse_reason", "kind", "number", "predir", "name", "suffix", "postdir", "unit",
    "street", "cross_predir", "cross_name", "cross_suffix", "cross_postdir", "cross_street",
    "zip", "key",
]


def _row(text: str | None) -> dict[str, object]:
    if text is None:
        return {"is_parsed": False, "parse_reason": "empty"}
    try:
        parsed = _normalize(str(text))
    except Unparseable as err:
        return {"is_parsed": False, "parse_reason": str(err)}
    except Exception as err:  # noqa: BLE001
        return {"is_parsed": False, "parse_reason": f"parser error: {type(err).__name__}"}
    row = {f.name: getattr(parsed, f.name) for f in fields(parsed)}
    row.update(is_parsed=True, parse_reason=None, street=parsed.street, cross_street=parsed.cross_street)
    return row


def parse_addresses(addresses: pd.Series) -> pd.DataFrame:
    """Return one row per input address (same index) with its parsed, normalized parts.

    Columns: ``is_parsed``, ``parse_reason`` (why not, e.g. "PO box, not a street address"),
    ``kind`` (house / block / intersection), ``number`` (house number or block start),
    ``predir``, ``name``, ``suffix``, ``postdir``, ``unit``, ``street`` (canonical street),
    the same for the cross street of an intersection, ``zip`` (when written in the text)
    and ``key`` (the canonical address key, see the module docstring). Distinct texts are
    parsed once; nothing raises and no row is dropped.
    """
    texts = [None if _missing(v) else str(v) for v in addresses.to_numpy(dtype=object)]
    rows: dict[str | None, dict[str, object]] = {}
    for text in texts:
        if text not in rows:
            rows[text] = _row(text)
    out = pd.DataFrame([rows[t] for t in texts], columns=PARSED_COLUMNS, index=addresses.index)
    out["is_parsed"] = out["is_parsed"].astype(bool)
    out["number"] = out["number"].astype("Int64")
    for col in PARSED_COLUMNS:
        if col not in ("is_parsed", "number"):
            out[col] = out[col].astype("str")
    return out



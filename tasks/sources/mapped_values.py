"""Vectorized value parsing for the mapped adapter: text, numbers, timestamps, yes/no flags,
placeholders and offense classification. Every function takes and returns Series (same index)
and never loops over rows in Python.
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from schemas.iucr_codes import NIBRS_BY_CATEGORY

TRUE_VALUES = ("true", "t", "y", "yes", "1")
FALSE_VALUES = ("false", "f", "n", "no", "0")
_NULL_STR = pa.scalar(None, pa.string())


def arrow_text(values: pd.Series) -> pa.ChunkedArray:
    """Return the values as an Arrow string array (zero-copy for pandas' Arrow-backed ``str``)."""
    pa_arr = getattr(values.array, "_pa_array", None)
    if pa_arr is not None and (pa.types.is_large_string(pa_arr.type) or pa.types.is_string(pa_arr.type)):
        return pa_arr
    return getattr(values.astype("str").array, "_pa_array")


def from_arrow(arr: pa.ChunkedArray, index: pd.Index) -> pd.Series:
    """Return an Arrow string array as a pandas ``str`` Series on ``index``."""
    return pd.Series(pd.array(arr, dtype="str"), index=index)


def trimmed(values: pd.Series) -> pa.ChunkedArray:
    """Return stripped text with empty strings as nulls (Arrow)."""
    s = pc.utf8_trim_whitespace(arrow_text(values))
    return pc.if_else(pc.equal(s, ""), pa.scalar(None, s.type), s)


def text(values: pd.Series) -> pd.Series:
    """Return stripped text; empty becomes null."""
    return from_arrow(trimmed(values), values.index)


def joined_text(frame: pd.DataFrame, columns: Sequence[str], index: pd.Index) -> pd.Series:
    """Return the stripped texts of ``columns`` joined with a space (nulls skipped; all null -> null)."""
    parts = [trimmed(frame[c]) for c in columns if c in frame.columns]
    if not parts:
        return pd.Series([None] * len(index), index=index, dtype="str")
    if len(parts) == 1:
        return from_arrow(parts[0], index)
    # NOTE: pyarrow 26's null_handling="skip" drops rows whose inputs are all null (the result is
    # shorter than the inputs), so empty parts are joined as "" and the spaces trimmed instead.
    sep = pa.scalar(" ", parts[0].type)
    joined = pc.binary_join_element_wise(*[pc.fill_null(p, pa.scalar("", p.type)) for p in parts], sep)
    joined = pc.utf8_trim_whitespace(pc.replace_substring_regex(joined, r"\s{2,}", " "))
    return from_arrow(pc.if_else(pc.equal(joined, ""), pa.scalar(None, joined.type), joined), index)


def to_float(values: pd.Series) -> pd.Series:
    """Return numbers parsed from text; unparseable text becomes NaN (the raw text is kept elsewhere)."""
    try:  # fast path: Arrow's cast when every value is numeric text
        arr = pa.array(values.array) if not isinstance(values.array, np.ndarray) else pa.array(values, from_pandas=True)
        return pd.Series(pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False), index=values.index, dtype="float64")
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return pd.to_numeric(values, errors="coerce").astype("float64")


# ---------------------------------------------------------------- timestamps

_AWARE = r"(?:Z|[+-]\d{2}(?::?\d{2})?)$"


# pandas' own strptime patterns (pandas/_libs/tslibs/strptime.pyx), so a value Arrow reads is one
# pandas would read too; formats with other directives go to pandas entirely.
_DIRECTIVES = {
    "%m": r"(?P<m>1[0-2]|0[1-9]|[1-9])", "%d": r"(?P<d>3[01]|[12]\d|0[1-9]|[1-9]| [1-9])", "%Y": r"(?P<Y>\d\d\d\d)",
    "%y": r"(?P<y>\d\d)", "%H": r"(?P<H>2[0-3]|[0-1]\d|\d)", "%I": r"(?P<I>1[0-2]|0[1-9]|[1-9])",
    "%M": r"(?P<M>[0-5]\d|\d)", "%S": r"(?P<S>6[0-1]|[0-5]\d|\d)", "%p": r"(?P<p>(?i:am|pm))", "%%": "%",
}


def _format_regex(fmt: str) -> str | None:
    """Return an anchored regex with named day/month groups for ``fmt``, or None if it has other directives."""
    out, i = [], 0
    while i < len(fmt):
        if fmt[i] == "%":
            pat = _DIRECTIVES.get(fmt[i:i + 2])
            if pat is None or (pat.startswith("(?P<") and fmt[i:i + 2] in fmt[i + 2:]):
                return None  # unknown or repeated directive
            out.append(pat)
            i += 2
        else:
            out.append(re.escape(fmt[i]))
            i += 1
    return "^" + "".join(out) + "$"


def _arrow_strptime(arr: pa.ChunkedArray, fmt: str) -> tuple[np.ndarray, np.ndarray] | None:
    """Return (datetime64[us] values, accepted mask) for values Arrow parses unambiguously, or None.

    NOTE: Arrow's strptime rolls impossible dates over (02/30 -> 03/01) and is looser than
    pandas (``%Y`` takes "16"). A value is accepted only when it matches pandas' own pattern for
    the format (seconds 0-59) and, where the parsed day is 1-3 (the only days a rollover
    produces), the written day and month equal the parsed ones. The rest go to pandas, which
    rejects impossible dates. About 3x faster than pandas on distinct values.
    """
    regex = _format_regex(fmt)
    if regex is None or "(?P<d>" not in regex or "(?P<m>" not in regex:
        return None
    parsed = pc.strptime(arr, format=fmt, unit="s", error_is_null=True)
    strict = regex.replace("(?P<S>6[0-1]|", "(?P<S>")  # pandas reads :60 but then rejects it
    ok = pc.fill_null(pc.and_(pc.is_valid(parsed), pc.match_substring_regex(arr, strict)), False)
    ok = ok.to_numpy(zero_copy_only=False).copy()
    suspect = np.flatnonzero(ok & (pc.fill_null(pc.day(parsed), 0).to_numpy(zero_copy_only=False) <= 3))
    if len(suspect):
        take = pa.array(suspect)
        parts, got = pc.extract_regex(pc.take(arr, take), strict), pc.take(parsed, take)
        same = np.ones(len(suspect), dtype=bool)
        for name, fn in (("d", pc.day), ("m", pc.month)):
            written = pc.cast(pc.utf8_trim_whitespace(pc.struct_field(parts, name)), pa.int64())
            same &= pc.fill_null(pc.equal(written, fn(got)), False).to_numpy(zero_copy_only=False)
        ok[suspect[~same]] = False
    values = pc.cast(parsed, pa.timestamp("us")).to_numpy(zero_copy_only=False).astype("datetime64[us]")
    return values, ok


def _pandas_parse(text_values: pd.Series, fmt: str, source_tz: str, city_tz: str) -> pd.Series:
    """Return naive city-local timestamps for one format (values with an offset are instants)."""
    out = pd.Series(pd.NaT, index=text_values.index, dtype="datetime64[us]")
    if text_values.empty:
        return out
    aware = text_values.str.contains(_AWARE, regex=True, na=False) if fmt == "ISO8601" else \
        pd.Series(False, index=text_values.index)
    for part in (aware, ~aware):
        if not part.any():
            continue
        parsed = pd.to_datetime(text_values[part], errors="coerce", utc=bool(part is aware), format=fmt)
        if getattr(parsed.dt, "tz", None) is not None:
            parsed = parsed.dt.tz_convert(city_tz).dt.tz_localize(None)
        elif source_tz != city_tz:
            parsed = parsed.dt.tz_localize(source_tz, ambiguous="NaT", nonexistent="NaT") \
                .dt.tz_convert(city_tz).dt.tz_localize(None)
        out[part] = parsed.astype("datetime64[us]")
    return out


def parse_timestamps(values: pd.Series, formats: Sequence[str], source_tz: str, city_tz: str) -> pd.Series:
    """Return naive local (city time zone) timestamps; unparseable values become NaT.

    Columns with few distinct values (an "updated on" stamp per upload) are parsed once per value.
    """
    arr = trimmed(values)
    if len(arr) > 1000:
        encoded = pc.dictionary_encode(arr.combine_chunks())
        if len(encoded.dictionary) * 4 < len(arr):
            uniques = pd.Series(pd.array(encoded.dictionary, dtype="str"))
            parsed = np.append(parse_timestamps(uniques, formats, source_tz, city_tz).to_numpy(),
                               np.datetime64("NaT", "us"))  # position -1: null values
            idx = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)
            return pd.Series(parsed[idx], index=values.index, dtype="datetime64[us]")
    result = np.full(len(values), np.datetime64("NaT"), dtype="datetime64[us]")
    todo = pc.is_valid(arr).to_numpy(zero_copy_only=False)
    plain = pd.Series(from_arrow(arr, values.index))
    for fmt in formats:
        if not todo.any():
            break
        fast = _arrow_strptime(arr, fmt) if fmt != "ISO8601" else None
        if fast is not None:
            got, ok = fast
            ok &= todo
            if source_tz != city_tz and ok.any():
                got[ok] = _localize(pd.Series(got[ok]), source_tz, city_tz).to_numpy()
            result[ok] = got[ok]
            todo &= ~ok
            if not todo.any():
                break
        rest = plain[todo]
        parsed = _pandas_parse(rest, fmt, source_tz, city_tz)
        hit = parsed.notna().to_numpy()
        idx = np.flatnonzero(todo)[hit]
        result[idx] = parsed.to_numpy()[hit]
        todo[idx] = False
    return pd.Series(result, index=values.index, dtype="datetime64[us]")


def _localize(values: pd.Series, source_tz: str, city_tz: str) -> pd.Series:
    return values.dt.tz_localize(source_tz, ambiguous="NaT", nonexistent="NaT").dt.tz_convert(city_tz) \
        .dt.tz_localize(None).astype("datetime64[us]")


# ---------------------------------------------------------------- flags

@dataclass(frozen=True)
class FlagRule:
    """How one yes/no column reads: texts for yes and no, a mapping table, and the blank value."""

    column: str
    true_values: tuple[str, ...] = TRUE_VALUES
    false_values: tuple[str, ...] = FALSE_VALUES
    values: Mapping[str, bool] = field(default_factory=dict)
    blank: bool | None = None
    case_sensitive: bool = False


def parse_flag(values: pd.Series | None, rule: FlagRule | None, index: pd.Index) -> pd.Series:
    """Return a nullable boolean per row: yes, no, or unknown (text in neither list)."""
    out = pd.Series(pd.NA, index=index, dtype="boolean")
    if values is None or rule is None:
        return out
    arr = trimmed(values)
    norm = arr if rule.case_sensitive else pc.utf8_lower(arr)

    def fold(items) -> list[str]:
        return [str(v).strip() if rule.case_sensitive else str(v).strip().lower() for v in items]

    yes = set(fold(rule.true_values)) | {k for k, v in zip(fold(rule.values), rule.values.values()) if v}
    no = set(fold(rule.false_values)) | {k for k, v in zip(fold(rule.values), rule.values.values()) if not v}
    no -= {k for k, v in zip(fold(rule.values), rule.values.values()) if v}
    yes -= {k for k, v in zip(fold(rule.values), rule.values.values()) if not v}
    is_yes = pc.is_in(norm, value_set=pa.array(sorted(yes), type=norm.type)).to_numpy(zero_copy_only=False)
    is_no = pc.is_in(norm, value_set=pa.array(sorted(no), type=norm.type)).to_numpy(zero_copy_only=False)
    out[is_yes] = True
    out[is_no & ~is_yes] = False
    if rule.blank is not None:
        out[pc.is_null(norm).to_numpy(zero_copy_only=False)] = rule.blank
    return out


# ---------------------------------------------------------------- offenses

@dataclass(frozen=True)
class Selector:
    """Rows picked by any (or all) of: codes, a whole-code pattern, group values, a description pattern."""

    codes: tuple[str, ...] = ()
    code_pattern: str | None = None
    groups: tuple[str, ...] = ()
    description_pattern: str | None = None
    match: str = "any"

    def mask(self, codes: pa.ChunkedArray, groups: pa.ChunkedArray | None, descriptions: pa.ChunkedArray | None,
             strip_zeros: bool) -> np.ndarray:
        tests = []
        if self.codes:
            wanted = sorted({normalize_code(c, strip_zeros) for c in self.codes})
            tests.append(pc.is_in(codes, value_set=pa.array(wanted, type=codes.type)))
        if self.code_pattern:
            tests.append(pc.match_substring_regex(codes, f"^(?:{self.code_pattern})$"))
        if self.groups:
            g = pc.utf8_upper(groups) if groups is not None else pa.chunked_array([pa.nulls(len(codes), pa.string())])
            tests.append(pc.is_in(g, value_set=pa.array(sorted({x.strip().upper() for x in self.groups}), type=g.type)))
        if self.description_pattern:
            d = descriptions if descriptions is not None else pa.chunked_array([pa.nulls(len(codes), pa.string())])
            tests.append(pc.match_substring_regex(d, self.description_pattern, ignore_case=True))
        masks = [pc.fill_null(t, False).to_numpy(zero_copy_only=False) for t in tests]
        if not masks:
            return np.zeros(len(codes), dtype=bool)
        return np.logical_and.reduce(masks) if self.match == "all" else np.logical_or.reduce(masks)


@dataclass(frozen=True)
class OffenseRules:
    """Drug selection and categories beyond a plain code -> category map."""

    drug: Selector | None = None
    categories: tuple[tuple[str, Selector], ...] = ()  # in precedence order


def normalize_code(code: str, strip_zeros: bool) -> str:
    key = str(code).strip().upper()
    return key.lstrip("0") if strip_zeros else key


def normalized_codes(codes: pd.Series, strip_zeros: bool) -> pa.ChunkedArray:
    """Return codes stripped, upper-cased and (optionally) without leading zeros, as Arrow text."""
    arr = pc.utf8_upper(trimmed(codes))
    return pc.utf8_ltrim(arr, characters="0") if strip_zeros else arr


def classify_offenses(codes: pd.Series, category_by_code: Mapping[str, str], strip_zeros: bool,
                      rules: OffenseRules | None = None, groups: pd.Series | None = None,
                      descriptions: pd.Series | None = None) -> pd.Series:
    """Return each row's offense category (``non_drug`` when no rule makes it a drug offense).

    A code in ``category_by_code`` gives its category. ``rules.categories`` are tried in
    precedence order for rows still unclassified; with ``rules.drug``, only rows it selects are
    drug offenses (a drug row no category matches is ``other_drug``).
    """
    norm = normalized_codes(codes, strip_zeros)
    cats = np.full(len(codes), None, dtype=object)
    if category_by_code:
        keys = pa.array(list(category_by_code), type=norm.type)
        pos = pc.index_in(norm, value_set=keys).to_numpy(zero_copy_only=False)
        hit = ~np.isnan(pos.astype("float64"))
        cats[hit] = np.asarray(list(category_by_code.values()), dtype=object)[pos[hit].astype(int)]
    if rules is not None and (rules.categories or rules.drug):
        g = trimmed(groups) if groups is not None else None
        d = trimmed(descriptions) if descriptions is not None else None
        for category, sel in rules.categories:
            m = sel.mask(norm, g, d, strip_zeros) & pd.isna(cats)
            cats[m] = category
        if rules.drug is not None:
            is_drug = rules.drug.mask(norm, g, d, strip_zeros)
            cats[~is_drug] = None
            cats[is_drug & pd.isna(cats)] = "other_drug"
    cats[pd.isna(cats)] = "non_drug"
    return pd.Series(cats, index=codes.index, dtype="str")


def nibrs_codes(category: pd.Series) -> pd.Series:
    """Return 35A / 35B per drug category (null for non-drug)."""
    return category.map(NIBRS_BY_CATEGORY).astype("str")


# ---------------------------------------------------------------- placeholders and keys

def blank_placeholders(values: pd.Series, placeholders: Sequence[str | float]) -> pd.Series:
    """Return ``values`` with declared placeholder values set missing (numbers, dates or text)."""
    if not placeholders or values.empty:
        return values
    if pd.api.types.is_datetime64_any_dtype(values):
        hit = np.zeros(len(values), dtype=bool)
        for p in placeholders:
            ts = pd.Timestamp(str(p))
            day_only = len(str(p).strip()) <= 10
            hit |= ((values.dt.normalize() == ts) if day_only else (values == ts)).to_numpy(na_value=False)
        return values.mask(hit)
    if pd.api.types.is_float_dtype(values):
        return values.mask(values.isin([float(p) for p in placeholders]))
    return values.mask(values.isin([str(p).strip() for p in placeholders]))


def hashed_key(parts: Sequence[pd.Series], prefix: str, index: pd.Index) -> pd.Series:
    """Return ``prefix`` + 16 hex digits of SHA-1 over the parts' normalized text joined with '|'.

    Timestamps are written as ISO text and text is stripped and upper-cased first, so a row and
    the adjustment of it in a later file (with another date format) get the same key. Only the
    distinct combinations are hashed (hashlib, stable across Python and pandas versions).
    """
    texts = []
    for s in parts:
        if pd.api.types.is_datetime64_any_dtype(s):
            t = pd.Series(pc.strftime(pa.array(s.astype("datetime64[s]")), format="%Y-%m-%dT%H:%M:%S"), index=index)
        elif pd.api.types.is_float_dtype(s):
            t = s.astype("str")
        else:
            t = from_arrow(pc.utf8_upper(trimmed(s)), index)
        texts.append(t.astype("str").fillna(""))
    combined = texts[0].str.cat(texts[1:], sep="|") if len(texts) > 1 else texts[0]
    codes, uniques = pd.factorize(combined)
    digests = np.array([prefix + hashlib.sha1(u.encode("utf-8")).hexdigest()[:16] for u in uniques], dtype=object)
    return pd.Series(digests[codes] if len(codes) else [], index=index, dtype="str")

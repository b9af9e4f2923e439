"""CPD / Elucd Police Sentiment Scores (Chicago portal ``28me-84fj``) -> canonical score rows.

Columns used: ``AREA, DISTRICT, SECTOR, SAFETY, TRUST, T_LISTEN, T_RESPECT, START_DATE,
END_DATE`` (``MM/DD/YYYY``); the race/age/sex/education/income breakdowns (``S_*``, ``T_*``) stay
in the raw landing zone. The unit of a row is its finest filled field: ``SECTOR`` (a beat-sector
code, district + sector digit + ``0``: ``1610`` = beats 1611-1614), else ``DISTRICT``, else
``AREA`` (``area_1``..``area_5`` = CPD areas, ``NORTH``/``CENTRAL``/``SOUTH`` = older bureaus;
neither is a community area), else the whole city.

Exact duplicate rows (70 in the 2017-11..2021-07 file) are quarantined with the reason
``exact duplicate of data row N``, not dropped: ``to_standard`` returns one row per input row and
the batch path refuses a batch whose rows read != loaded + quarantined, so a quarantine row is
how the audit counts them (``quarantine_reasons`` per batch). Two different rows for the same
unit and period (one pair: citywide week 2019-03-03) are both quarantined: which one is right
cannot be told from the file.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from schemas.community_voice import SENTIMENT_SCORES
from tasks.sources.adapter import QUARANTINE_REASON, Adapter
from tasks.sources.csv_reader import check_columns, iter_csv_batches, read_header
from tasks.sources.mapped import to_float

SLUG = "police_sentiment"
SUITE = "police_sentiment"
DATE_FORMAT = "%m/%d/%Y"
REQUIRED_COLUMNS = ("AREA", "DISTRICT", "SECTOR", "SAFETY", "TRUST", "START_DATE", "END_DATE")
BUREAUS = ("NORTH", "CENTRAL", "SOUTH")
CITY_UNIT = "chicago"


def read_raw(path: Path) -> Iterator[pa.RecordBatch]:
    """Yield the sentiment CSV/CSV.gz as Arrow batches of text after checking its columns."""
    check_columns(path, read_header(path), REQUIRED_COLUMNS)
    yield from iter_csv_batches(Path(path))


def _text(raw: pd.DataFrame, column: str) -> pd.Series:
    if column not in raw:
        return pd.Series(pd.NA, index=raw.index, dtype="str")
    s = raw[column].astype("str").str.strip()
    return s.mask(s == "").astype("str")


def _code(values: pd.Series) -> pd.Series:
    # "16", "16.0" and "016" are district 16.
    num = pd.to_numeric(values, errors="coerce")
    return values.where(num.isna(), num.round().astype("Int64").astype("str")).astype("str")


def period_kinds(start: pd.Series, end: pd.Series) -> pd.Series:
    """Return ``month`` (first to last day of one calendar month), ``week`` (a 6-day span, 7
    days counted inclusively) or ``other`` per period."""
    month = (start.dt.day == 1) & (end == start + pd.offsets.MonthEnd(0))
    week = (end - start) == pd.Timedelta(days=6)
    return pd.Series(np.select([month, week], ["month", "week"], "other"), index=start.index, dtype="str")


def _duplicate_reasons(raw: pd.DataFrame, sentiment_id: pd.Series) -> pd.Series:
    reason = pd.Series(pd.NA, index=raw.index, dtype="str")
    filled = raw.astype("str").fillna("\x00")  # NaN never equals NaN: compare on a filled copy
    dup = filled.duplicated(keep="first")
    if dup.any():
        first = filled.reset_index().groupby(list(filled.columns), sort=False)["index"].transform("first")
        first.index = raw.index
        reason[dup] = "exact duplicate of data row " + (first[dup] + 1).astype("str")
    distinct = ~dup
    clash = distinct & sentiment_id.notna() & sentiment_id.where(distinct).duplicated(keep=False)
    reason[clash] = ("different scores for the same unit and period (" + sentiment_id[clash]
                     + ") in two rows; neither is kept")
    return reason


def standardize_sentiment(raw: pd.DataFrame) -> pd.DataFrame:
    """Return canonical sentiment rows, one per raw row (same index), plus ``raw_*`` text and
    ``quarantine_reason`` (exact duplicates, conflicting rows for one unit and period)."""
    sector, district = _code(_text(raw, "SECTOR")), _code(_text(raw, "DISTRICT"))
    area = _text(raw, "AREA")
    level = np.select([sector.notna(), district.notna(), area.str.upper().isin(BUREAUS).fillna(False), area.notna()],
                      ["sector", "district", "bureau", "area"], "city")
    unit = sector.fillna(district).fillna(area).fillna(CITY_UNIT)
    start_text, end_text = _text(raw, "START_DATE"), _text(raw, "END_DATE")
    start = pd.to_datetime(start_text, format=DATE_FORMAT, errors="coerce").astype("datetime64[us]")
    end = pd.to_datetime(end_text, format=DATE_FORMAT, errors="coerce").astype("datetime64[us]")
    sentiment_id = (pd.Series(level, index=raw.index) + "|" + unit + "|" + start.dt.strftime("%Y-%m-%d")
                    + "|" + end.dt.strftime("%Y-%m-%d")).astype("str")
    out = pd.DataFrame({
        # An unparseable date gets a per-row id so the suite, not the key check, quarantines it.
        "sentiment_id": sentiment_id.fillna(pd.Series(level, index=raw.index) + "|" + unit + "|row "
                                            + pd.Series(raw.index, index=raw.index).astype("str")),
        "unit_level": pd.Series(level, index=raw.index, dtype="str"),
        "unit_id": unit,
        "district": district,
        "sector": sector,
        "cpd_area": area,
        "period_start": start,
        "period_end": end,
        "period_kind": period_kinds(start, end),
        "safety": to_float(_text(raw, "SAFETY")),
        "trust": to_float(_text(raw, "TRUST")),
        "t_listen": to_float(_text(raw, "T_LISTEN")),
        "t_respect": to_float(_text(raw, "T_RESPECT")),
    }, index=raw.index)
    canon = SENTIMENT_SCORES.coerce(out)
    canon["raw_safety"], canon["raw_trust"] = _text(raw, "SAFETY"), _text(raw, "TRUST")
    canon["raw_start_date"], canon["raw_end_date"] = start_text, end_text
    canon[QUARANTINE_REASON] = _duplicate_reasons(raw, sentiment_id)
    return canon


ADAPTER = Adapter(slug=SLUG, schema=SENTIMENT_SCORES, suite=SUITE, read_raw=read_raw,
                  to_standard=standardize_sentiment, geocoder=None)

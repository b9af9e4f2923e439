"""Chicago "Crimes - 2001 to present" (Socrata ``ijzp-q8t2``): files or API -> canonical incidents.

Quirks handled here:
- bulk year files have 20 columns (``Year`` and ``Location`` dropped upstream); portal
  exports have 22; both read the same.
- CSV dates are ``MM/DD/YYYY hh:mm:ss AM``; the SODA API returns ISO 8601 (``2015-01-01T08:00:00.000``),
  both local Chicago time.
- the IUCR lookup has no leading zeros and lacks CPD's firearm codes (see schemas/iucr_codes.py).
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from schemas.iucr_codes import DRUG_CATEGORY_BY_IUCR, known_iucr_codes
from tasks.sources.csv_reader import check_columns, iter_csv_batches, read_header
from tasks.sources.mapped import IncidentMapping, standardize_incidents

SLUG = "police_chicago"

# Source column names of the portal CSV export.
CHICAGO_MAPPING = IncidentMapping(
    id_column="ID",
    occurred_at="Date",
    updated_at="Updated On",
    is_arrest="Arrest",
    is_domestic="Domestic",
    columns={
        "case_number": "Case Number",
        "iucr": "IUCR",
        "primary_type": "Primary Type",
        "description": "Description",
        "fbi_code": "FBI Code",
        "location_description": "Location Description",
        "block": "Block",
        "beat": "Beat",
        "district": "District",
        "ward": "Ward",
        "source_area_id": "Community Area",
    },
    timestamp_formats=("%m/%d/%Y %I:%M:%S %p", "ISO8601"),
    source_timezone="America/Chicago",
    city_timezone="America/Chicago",
    latitude="Latitude",
    longitude="Longitude",
    x="X Coordinate",
    y="Y Coordinate",
    offense_code_column="IUCR",
    strip_leading_zeros=True,
    category_by_code=DRUG_CATEGORY_BY_IUCR,
)
REQUIRED_COLUMNS = CHICAGO_MAPPING.required_columns + ["Case Number", "Date", "Primary Type", "Updated On"]

# SODA JSON field -> portal CSV column, so API pages land and standardize like files.
SOCRATA_FIELDS = {
    "id": "ID", "case_number": "Case Number", "date": "Date", "block": "Block", "iucr": "IUCR",
    "primary_type": "Primary Type", "description": "Description",
    "location_description": "Location Description", "arrest": "Arrest", "domestic": "Domestic",
    "beat": "Beat", "district": "District", "ward": "Ward", "community_area": "Community Area",
    "fbi_code": "FBI Code", "x_coordinate": "X Coordinate", "y_coordinate": "Y Coordinate",
    "year": "Year", "updated_on": "Updated On", "latitude": "Latitude", "longitude": "Longitude",
}
WATERMARK_FIELD = "updated_on"


def read_raw(path: Path) -> Iterator[pa.RecordBatch]:
    """Yield a Chicago CSV/CSV.gz file as Arrow batches of strings (20- or 22-column layout)."""
    check_columns(path, read_header(path), REQUIRED_COLUMNS)
    yield from iter_csv_batches(path)


def api_records_to_raw(records: list[Mapping[str, Any]]) -> pa.Table:
    """Return SODA JSON records as a table of strings with the portal's CSV column names."""
    cols: dict[str, list] = {csv_name: [] for csv_name in SOCRATA_FIELDS.values()}
    for rec in records:
        for api_name, csv_name in SOCRATA_FIELDS.items():
            v = rec.get(api_name)
            if isinstance(v, bool):
                v = "true" if v else "false"
            cols[csv_name].append(None if v is None else str(v))
    return pa.table({k: pa.array(v, type=pa.string()) for k, v in cols.items()})


def to_standard(raw: pd.DataFrame) -> pd.DataFrame:
    """Return canonical incidents (one row per raw row) plus ``raw_`` validation columns."""
    return standardize_incidents(raw, CHICAGO_MAPPING)


def iucr_value_set(lookup: pd.DataFrame) -> list[str]:
    """Return the IUCR codes accepted by validation, normalized without leading zeros."""
    return known_iucr_codes(lookup)

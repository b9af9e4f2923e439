"""Optional remote provider: the US Census Bureau batch geocoder (off unless a flow opts in).

One POST per batch of up to 10,000 addresses to ``.../geocoder/locations/addressbatch``: a
multipart upload of a header-less CSV ``id,street,city,state,zip`` plus the ``benchmark``
field. The answer is a header-less CSV, one row per id:
``id, input address, Match|No_Match|Tie, Exact|Non_Exact, matched address, "lon,lat",
tigerline id, side`` (rows that did not match stop after the status). Only the addresses
leave the machine; the pipeline must not send person-level fields.
"""
from __future__ import annotations

import csv
import io
import time

import httpx
import numpy as np
import pandas as pd

from schemas.errors import InputError, SourceError

CENSUS_BATCH_URL = "https://geocoding.geo.census.gov/geocoder/locations/addressbatch"
MAX_BATCH = 10_000
RESPONSE_COLUMNS = [
    "id", "input_address", "match_status", "match_type", "matched_address", "longitude", "latitude",
    "tiger_line_id", "side",
]
OUTPUT_COLUMNS = ["latitude", "longitude", "geocode_method", "geocode_precision", "match_score", "geocode_note"]
RETRY_STATUS = {429, 500, 502, 503, 504}


def build_batch_csv(streets: pd.Series, zips: pd.Series | None, city: str, state: str) -> bytes:
    """Return the upload body: one header-less CSV row ``id,street,city,state,zip`` per address.

    The id is the row's position in ``streets`` so answers map back whatever the index.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    zip_values = zips.to_numpy(object) if zips is not None else [None] * len(streets)
    for i, (street, zip_code) in enumerate(zip(streets.to_numpy(object), zip_values)):
        writer.writerow([i, "" if pd.isna(street) else str(street), city, state,
                         "" if zip_code is None or pd.isna(zip_code) else str(zip_code)])
    return out.getvalue().encode("utf-8")


def parse_batch_response(text: str) -> pd.DataFrame:
    """Return one row per answered id with ``RESPONSE_COLUMNS`` (longitude/latitude as floats)."""
    rows = []
    for record in csv.reader(io.StringIO(text)):
        if not record or not record[0].strip():
            continue
        coords = record[5].split(",") if len(record) > 5 and record[5] else []
        lon, lat = (float(coords[0]), float(coords[1])) if len(coords) == 2 else (np.nan, np.nan)
        fields = (record + [""] * 8)[:8]
        rows.append([fields[0].strip(), fields[1], fields[2], fields[3] or None, fields[4] or None,
                     lon, lat, fields[6] or None, fields[7] or None])
    frame = pd.DataFrame(rows, columns=RESPONSE_COLUMNS)
    return frame.astype({"longitude": float, "latitude": float})


class CensusBatchGeocoder:
    """Client for the Census batch geocoder with retries on server errors and timeouts."""

    def __init__(self, url: str = CENSUS_BATCH_URL, *, benchmark: str = "Public_AR_Current",
                 city: str = "Chicago", state: str = "IL", client: httpx.Client | None = None,
                 retries: int = 3, backoff_s: float = 2.0, timeout_s: float = 300.0,
                 batch_size: int = MAX_BATCH) -> None:
        if not 1 <= batch_size <= MAX_BATCH:
            raise InputError("census geocoder batch_size", f"{batch_size} is outside 1..{MAX_BATCH}",
                             "Use at most 10,000 addresses per batch")
        self.url, self.benchmark, self.city, self.state = url, benchmark, city, state
        self.client = client or httpx.Client(timeout=timeout_s)
        self.retries, self.backoff_s, self.batch_size = retries, backoff_s, batch_size

    def post_batch(self, body: bytes) -> str:
        """Return the response CSV text for one upload, retrying 429/5xx and transport errors."""
        last = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
            try:
                response = self.client.post(
                    self.url, data={"benchmark": self.benchmark},
                    files={"addressFile": ("addresses.csv", body, "text/csv")},
                )
            except httpx.TransportError as err:
                last = f"{type(err).__name__}: {err}"
                continue
            if response.status_code in RETRY_STATUS:
                last = f"HTTP {response.status_code}"
                continue
            if response.status_code >= 400:
                raise SourceError(self.url, f"batch geocoder answered HTTP {response.status_code}",
                                  "Check the URL and benchmark name")
            return response.text
        raise SourceError(self.url, f"batch geocoder failed after {self.retries + 1} tries ({last})",
                          "Retry later or leave the remote geocoder off")

    def geocode(self, frame: pd.DataFrame, address_col: str, zip_col: str | None = None) -> pd.DataFrame:
        """Return ``frame`` (same rows and index) plus ``OUTPUT_COLUMNS`` from the Census answer.

        ``Match``: ``census_batch`` / ``street`` (the Census interpolates along address ranges),
        score 1.0 for Exact and 0.8 for Non_Exact. ``No_Match``, ``Tie`` and ids the service did
        not answer: ``unmatched`` with the reason in ``geocode_note``.
        """
        for col in (address_col, zip_col):
            if col is not None and col not in frame.columns:
                raise InputError(f"column {col!r}", "not in the frame to geocode", "Pass an existing column name")
        answers = []
        for start in range(0, len(frame), self.batch_size):
            chunk = frame.iloc[start:start + self.batch_size]
            body = build_batch_csv(chunk[address_col], chunk[zip_col] if zip_col else None, self.city, self.state)
            parsed = parse_batch_response(self.post_batch(body))
            parsed["position"] = pd.to_numeric(parsed["id"], errors="coerce") + start
            answers.append(parsed)
        answer = pd.concat(answers, ignore_index=True) if answers else parse_batch_response("")
        answer = answer.dropna(subset=["position"]).drop_duplicates("position").set_index("position")
        answer = answer.reindex(np.arange(len(frame), dtype=float))
        status = answer["match_status"]
        is_match = status.eq("Match").fillna(False).to_numpy()
        out = frame.copy()
        out["latitude"] = np.where(is_match, answer["latitude"], np.nan)
        out["longitude"] = np.where(is_match, answer["longitude"], np.nan)
        out["geocode_method"] = np.where(is_match, "census_batch", "unmatched")
        out["geocode_precision"] = np.where(is_match, "street", "none")
        out["match_score"] = np.where(is_match, np.where(answer["match_type"].eq("Exact").fillna(False), 1.0, 0.8), 0.0)
        note = np.where(status.isna(), "census: no answer for this row",
                        np.where(status.eq("Tie").fillna(False), "census: tie between several matches",
                                 np.where(is_match, "census: " + answer["matched_address"].fillna("").astype(str),
                                          "census: no match")))
        out["geocode_note"] = pd.Series(note, index=out.index, dtype="str")
        for col in ("geocode_method", "geocode_precision"):
            out[col] = out[col].astype("str")
        return out

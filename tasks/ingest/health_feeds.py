"""Health and community-voice feeds' pieces for the shared batch path: readers, feed specs, the case
versions (revision history) and the police-unit crosswalk rows.

Three feeds, one path (``tasks.ingest.stages``):

- medical-examiner exports (``tasks.sources.medical_examiner``, one ``[sources.*]`` table per
  export): cases merged by case number, a newer ``edited_at`` replacing the stored case; every
  export's own values of each case go to ``fct_medical_examiner_case_versions`` (``history``), so
  a flag filled in by a later export is an update with its history kept, not a new death;
- survey indicator downloads (``tasks.sources.community_survey``), one batch per file, GEOID checked
  against the area name;
- police sentiment scores (``tasks.sources.police_sentiment``): exact duplicates quarantined with
  the row they repeat, so the audit counts them.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from functools import partial
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyarrow as pa

from schemas.community_voice import SENTIMENT_SCORES, SURVEY_INDICATORS
from schemas.medical_examiner import ME_CASE_VERSIONS, ME_CASES
from tasks.geocode.crosswalk import police_crosswalk
from tasks.ingest.feed_spec import FeedSpec
from tasks.sources import community_survey, medical_examiner, police_sentiment
from tasks.trends.provisional import estimate_provisional_months, flag_completeness

REPO = Path(__file__).resolve().parents[2]
SUITES = {name: REPO / "expectations" / f"{name}.json"
          for name in (medical_examiner.SUITE, community_survey.SUITE, police_sentiment.SUITE)}


# -- medical examiner ------------------------------------------------------------------------

def examiner_adapter(table: Mapping[str, Any], city_timezone: str, now: pd.Timestamp | None = None):
    """Return the examiner ``Adapter`` of one export's config table (``ExportConfig.from_config`` keys)."""
    return medical_examiner.medical_examiner_adapter(dict(table), city_timezone, now)


def examiner_reader(adapter) -> Callable[[Path], Iterator[pa.RecordBatch]]:
    """Return the ``land_file`` reader of an export (columns checked, text batches)."""
    return adapter.read_raw


def case_versions(cases: pd.DataFrame) -> pd.DataFrame:
    """Return the ``ME_CASE_VERSIONS`` rows of canonical cases: what this export says of each case."""
    return ME_CASE_VERSIONS.coerce(cases[ME_CASE_VERSIONS.column_names].copy())


def examiner_spec(source: str, adapter, geocode: Callable[[pd.DataFrame], pd.DataFrame] | None) -> FeedSpec:
    """Return the FeedSpec of one examiner export: cases + their versions, geocoded by ``geocode``
    (``tasks.geocode.case_locations.case_geocoder``)."""
    return FeedSpec(source=source, schema=ME_CASES, suite_path=SUITES[medical_examiner.SUITE],
                    to_standard=adapter.to_standard, geocode=geocode, suite_parameters=adapter.suite_parameters,
                    sensitive_raw_columns=adapter.sensitive_columns, child=ME_CASE_VERSIONS, history=case_versions,
                    duplicate_key_advice="The adapter keeps one row per case number; a repeat here is an adapter bug")


def export_window(source: str, label: str, layout: str, provisional_months: int) -> dict:
    """Return the ``ref_death_exports`` row of an export (its last death date is read after the load)."""
    return {"export_label": label, "source": source, "layout": layout, "provisional_months": int(provisional_months)}


def estimated_window(versions: pd.DataFrame, threshold: float = 0.9) -> tuple[str, str, int] | None:
    """Return (newest export, the older export it revises, estimated provisional months) from stored
    case versions (``warehouse.health_refs.read_case_versions``), or None with fewer than two exports.

    The older export's opioid-flagged deaths per month over the newest's for the same months is
    its completeness at ``months_back`` (``tasks.trends.provisional``); the window is the run of
    most recent months below ``threshold``."""
    order = versions.drop_duplicates("export_label").sort_values("last_death_date")["export_label"].tolist()
    if len(order) < 2:
        return None
    newest, older = order[-1], order[-2]
    early, late = versions[versions["export_label"] == older], versions[versions["export_label"] == newest]
    if early.empty or not early["death_date"].notna().any():
        return None
    return newest, older, estimate_provisional_months(flag_completeness(early, late), threshold)


# -- survey indicators -----------------------------------------------------------------------

def survey_reader(encoding: str) -> Callable[[Path], Iterator[pa.RecordBatch]]:
    return partial(community_survey.read_raw, encoding=encoding)


def survey_spec(source: str, neighborhoods: pd.DataFrame) -> FeedSpec:
    """Return the FeedSpec of an Atlas download: GEOIDs checked against the boundary file and names."""
    ids = sorted(neighborhoods["neighborhood_id"].astype(str), key=lambda s: (len(s), s))
    return FeedSpec(source=source, schema=SURVEY_INDICATORS, suite_path=SUITES[community_survey.SUITE],
                    to_standard=community_survey.standardize_indicators,
                    geocode=community_survey.survey_area_step(neighborhoods),
                    suite_parameters={"known_area_ids": ids})


# -- police sentiment ------------------------------------------------------------------------

def sentiment_spec(source: str) -> FeedSpec:
    """Return the FeedSpec of a sentiment export (no geography: the crosswalk carries it to areas)."""
    return FeedSpec(source=source, schema=SENTIMENT_SCORES, suite_path=SUITES[police_sentiment.SUITE],
                    to_standard=police_sentiment.standardize_sentiment, geocode=None,
                    duplicate_key_advice="A unit and period repeat with other scores: see the adapter's note")


def sentiment_reader(path: Path) -> Iterator[pa.RecordBatch]:
    yield from police_sentiment.read_raw(path)


def crosswalk_rows(beats_path: Path, districts_path: Path, neighborhoods: gpd.GeoDataFrame, projected_crs: str,
                   population: pd.DataFrame | None) -> pd.DataFrame:
    """Return ``dim_police_unit_crosswalk`` rows: district and sector weights per community area
    (population-weighted, uniform density inside an area; area-weighted without a population table)."""
    pop = None if population is None else population.set_index("neighborhood_id")["population"]
    return police_crosswalk(gpd.read_file(beats_path), gpd.read_file(districts_path), neighborhoods,
                            projected_crs=projected_crs, population=pop)

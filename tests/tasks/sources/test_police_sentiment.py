"""Police sentiment scores: units, periods, exact duplicates and conflicts, the suite."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from schemas.community_voice import SENTIMENT_SCORES
from tasks.ingest.validate import validate_batch_keys, validate_frame
from tasks.sources import police_sentiment as ps

SUITE = Path(__file__).resolve().parents[3] / "expectations" / "police_sentiment.json"
REAL = "chicago_community_survey/police_sentiment_scores_2017-11_to_2021-07.csv.gz"


def standardize(path):
    return ps.standardize_sentiment(pa.Table.from_batches(list(ps.read_raw(Path(path)))).to_pandas())


@pytest.fixture(scope="module")
def real(data_dir):
    return standardize(data_dir / REAL)


def test_real_file_duplicates_are_quarantined_and_counted(real):
    assert len(real) == 4_744
    reasons = real["quarantine_reason"].dropna()
    assert reasons.str.startswith("exact duplicate of data row").sum() == 70  # PROVENANCE.md
    assert reasons.str.startswith("different scores for the same unit and period").sum() == 2
    kept = real[real["quarantine_reason"].isna()]
    assert SENTIMENT_SCORES.check(SENTIMENT_SCORES.coerce(kept)) == []
    assert not kept["sentiment_id"].duplicated().any()


def test_real_file_units_and_periods(real):
    kept = real[real["quarantine_reason"].isna()]
    per_year = kept.groupby([kept["unit_level"], kept["period_start"].dt.year]).size()
    # PROVENANCE.md: district rows 44 / 264 a year / 154, sector rows 138 / 828 / 483.
    assert [per_year[("district", y)] for y in range(2017, 2022)] == [44, 264, 264, 264, 154]
    assert [per_year[("sector", y)] for y in range(2017, 2022)] == [138, 828, 828, 828, 483]
    assert kept["district"][kept["unit_level"] == "district"].nunique() == 22
    assert kept["sector"].nunique() == 69
    assert set(kept.loc[kept["unit_level"].isin(["district", "sector"]), "period_kind"]) == {"month"}
    assert set(kept.loc[kept["unit_level"] == "bureau", "period_kind"]) == {"week"}
    out = validate_frame(kept.drop(columns=["quarantine_reason"]), SUITE, {}, id_column="sentiment_id")
    assert out.critical_failures == [] and out.n_quarantined == 0
    assert validate_batch_keys(kept[["sentiment_id"]], SUITE, where="real").critical_failures == []


def test_quirks_fixture(bad_dir):
    std = standardize(bad_dir / "police_sentiment/sentiment_quirks.csv")
    assert std["unit_level"].tolist() == ["district", "sector", "district", "city", "city", "bureau", "district", "district"]
    assert std.loc[1, "unit_id"] == "1610" and std.loc[1, "district"] == "16"
    reasons = std["quarantine_reason"].tolist()
    assert reasons[2] == "exact duplicate of data row 1"
    assert reasons[3].startswith("different scores for the same unit and period (city|chicago|2019-03-03|2019-03-09)")
    assert reasons[4] == reasons[3]
    assert pd.isna(reasons[0]) and pd.isna(reasons[5])
    kept = std[std["quarantine_reason"].isna()].drop(columns=["quarantine_reason"])
    out = validate_frame(kept, SUITE, {}, id_column="sentiment_id")
    got = sorted(out.quarantine["reason"].unique())
    assert got == ["END_DATE is empty or not MM/DD/YYYY", "SAFETY is outside 0-100", "START_DATE is empty or not MM/DD/YYYY"]
    assert validate_batch_keys(kept[["sentiment_id"]], SUITE, where="fixture").critical_failures == []

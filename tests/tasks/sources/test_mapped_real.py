"""St. Louis and Boston real files through the mapped adapter, the police suite, the geocoder and the
incident grain (tests/city_runs.py): the issue-10 targets, measured on every row."""
from __future__ import annotations

import pandas as pd
import pytest

from tests.city_runs import REPO, agreement, run_city

pytestmark = pytest.mark.slow

STL_OFFICIAL_DRUG_TALLY = 23_245  # PROVENANCE.md: sum of Count over drug codes, 2008-2018


@pytest.fixture(scope="module")
def st_louis(data_dir):
    return run_city(REPO / "config" / "st_louis.toml", "police_st_louis", data_dir)


@pytest.fixture(scope="module")
def boston(data_dir):
    return run_city(REPO / "config" / "boston.toml", "police_boston", data_dir)


def test_st_louis_every_row_is_loaded_or_quarantined_with_a_reason(st_louis):
    assert st_louis.rows_read == 595_155
    assert st_louis.rows_loaded + st_louis.rows_quarantined == st_louis.rows_read
    assert st_louis.rows_quarantined < 100 and all(st_louis.quarantine)  # every quarantined row has a reason
    assert st_louis.quarantine.get("occurred_at is a declared placeholder date (no date in the source)") == 13
    assert len(st_louis.offenses) == st_louis.rows_loaded  # every loaded row is an offense row


def test_st_louis_layouts_and_encodings_match_the_provenance(st_louis):
    assert st_louis.layouts == {"A (18 columns, no complaint number)": 67, "B (20 columns)": 64,
                                "C (26 columns, 2017-05)": 1}
    assert st_louis.encodings == {"utf-8": 120, "cp1252": 10, "cp1252+bom": 1, "utf-8+bom": 1}


def test_st_louis_drug_incidents_are_within_3_percent_of_the_official_tally(st_louis):
    inc = st_louis.incidents
    drug = int((inc["is_drug_offense"] & ~inc["is_reversed"]).sum())
    assert abs(drug - STL_OFFICIAL_DRUG_TALLY) / STL_OFFICIAL_DRUG_TALLY < 0.03, drug
    off = st_louis.offenses
    assert int(off.loc[off["is_drug_offense"], "offense_count"].sum()) == STL_OFFICIAL_DRUG_TALLY
    assert inc["incident_id"].is_unique


def test_st_louis_geocoded_neighborhood_agrees_with_the_source(st_louis):
    n, share = agreement(st_louis)
    assert n > 500_000 and share >= 0.95, share


def test_boston_incidents_are_the_distinct_incident_numbers_read(boston):
    inc, off = boston.incidents, boston.offenses
    assert len(boston.ids_read) == 14_235 + 14_527
    fully_quarantined = boston.quarantined_ids - set(inc["incident_id"])
    assert set(inc["incident_id"]) == boston.ids_read - fully_quarantined
    assert len(inc) == len(boston.ids_read) - len(fully_quarantined) and inc["incident_id"].is_unique
    assert boston.rows_loaded + boston.rows_quarantined == boston.rows_read == 18_488 + 14_527
    assert len(off) == boston.rows_loaded  # every loaded offense row is in the child table


def test_boston_drug_incidents_are_incidents_with_a_drug_offense_row(boston, data_dir):
    inc, off = boston.incidents, boston.offenses
    with_drug_row = set(off.loc[off["is_drug_offense"], "incident_id"])
    assert set(inc.loc[inc["is_drug_offense"].to_numpy(dtype=bool), "incident_id"]) == with_drug_row
    # Reference straight from the files: incident numbers with a row whose description is a drug offense.
    raw = pd.concat([pd.read_csv(data_dir / "boston" / name, dtype=str, keep_default_na=False) for name in (
        "drug_violations_2015-06_to_2019-11.csv.gz", "crime_incidents_2023-01-01_to_2023-03-17.csv.gz")])
    drug_rows = raw["OFFENSE_DESCRIPTION"].str.contains(r"^DRUGS\b|DRUG RELATED ILLNESS", regex=True)
    assert with_drug_row == set(raw.loc[drug_rows, "INCIDENT_NUMBER"].str.strip())
    assert len(with_drug_row) == 14_159
    picked = inc.set_index("incident_id").loc[sorted(with_drug_row)]
    assert (picked["offense_category"] != "non_drug").all()  # the incident names its drug offense
    assert pd.Series(off["offense_id"]).is_unique

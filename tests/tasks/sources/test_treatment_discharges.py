"""TEDS-D rows (real decoded sample and the numeric PUF layout) and provider discharge exports."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from schemas.discharges import TEDS_STATE_DISCHARGES, TREATMENT_DISCHARGES
from schemas.errors import InputError
from tasks.ingest.pseudonymize import pseudonymize
from tasks.ingest.validate import validate_frame
from tasks.sources import treatment_discharges_provider as provider
from tasks.sources import treatment_discharges_teds as teds
from tasks.sources.adapter import QUARANTINE_REASON

KEY = b"k" * 32
DATA = Path(__file__).resolve().parents[2] / "data"
SUITES = Path(__file__).resolve().parents[3] / "expectations"
SAMPLE = "teds/tedsd_2023_sample_decoded.csv"


def _read(adapter_read, path: Path) -> pd.DataFrame:
    return pa.Table.from_batches(list(adapter_read(path))).to_pandas()


@pytest.fixture(scope="module")
def sample(data_dir) -> pd.DataFrame:
    return teds.to_standard(_read(teds.read_raw, data_dir / SAMPLE))


def test_decoded_sample_maps_back_to_codes(sample):
    """Counts pinned to the sample's own label counts (value_counts of the CSV)."""
    assert len(sample) == 1000 and sample[QUARANTINE_REASON].isna().all()
    assert TEDS_STATE_DISCHARGES.check(TEDS_STATE_DISCHARGES.coerce(sample)) == []
    assert sample["discharge_reason"].value_counts().to_dict() == {1: 424, 2: 238, 4: 225, 3: 55, 7: 47, 5: 9, 6: 2}
    assert int(sample["is_completed"].sum()) == 424
    assert sample["referral_source"].value_counts()[7] == 190 == int(sample["is_criminal_justice_referral"].sum())
    assert sample["is_criminal_justice_referral"].isna().sum() == 121  # blank PSOURCE is -9, not 'other'
    assert sample["arrests_at_admission"].value_counts().to_dict() == {1: 33, 2: 9}
    assert (sample["state_fips"] == 13).sum() == 29  # Georgia: absent from the 2017 codebook, present in 2023


def test_decoded_length_of_stay_reads_days_not_ranges(sample):
    """NOTE: the decoder wrote LOS codes 1..6 with range labels; '1-7 days' is LOS 1 (one day)."""
    assert sample["length_of_stay"].value_counts().sort_index().to_dict() == {1: 174, 2: 49, 3: 37, 4: 35, 5: 25, 6: 19}
    assert sample["length_of_stay"].isna().sum() == 661
    assert sample.loc[sample["raw_length_of_stay"] == "More than 1 year", "length_of_stay"].eq(6).all()


def test_decoded_sample_passes_its_suite(sample):
    out = validate_frame(sample.drop(columns=[QUARANTINE_REASON]), SUITES / "teds_discharges.json",
                         teds.ADAPTER.suite_parameters, id_column="caseid")
    assert out.critical_failures == [] and out.n_quarantined == 0


def test_numeric_layout_and_its_defects():
    std = teds.to_standard(_read(teds.read_raw, DATA / "treatment_discharges_teds" / "numeric.csv"))
    assert std["discharge_reason"].tolist()[:3] == [1, 2, 4] and std.loc[5, "discharge_reason"] == 1  # '1.0'
    assert std.loc[0, "is_criminal_justice_referral"] and pd.isna(std.loc[2, "is_criminal_justice_referral"])
    assert std.loc[5, QUARANTINE_REASON] == "ARRESTS 'x' is not a whole number"
    out = validate_frame(std[std[QUARANTINE_REASON].isna()], SUITES / "teds_discharges.json",
                         teds.ADAPTER.suite_parameters, id_column="caseid")
    bad = dict(zip(out.quarantine["record_id"], out.quarantine["column_name"]))
    assert bad == {"20230000004": "discharge_reason", "20230000005": "length_of_stay"}


def test_unknown_decoded_labels_are_quarantined_with_the_label():
    std = teds.to_standard(_read(teds.read_raw, DATA / "treatment_discharges_teds" / "decoded_bad_label.csv"))
    assert std[QUARANTINE_REASON].tolist() == ["referral_source label 'Court' is not a TEDS-D label",
                                               "discharge_reason label 'Graduated' is not a TEDS-D label"]


@pytest.mark.parametrize("header, problem", [
    ("caseid_x,reason\n1,1\n", "neither CASEID"),
    ("CASEID,DISYR\n1,2023\n", "column 'REASON' is missing"),
    ("CASEID,REASON\n", "header but no data rows"),
], ids=["unknown-layout", "no-reason", "header-only"])
def test_bad_teds_files_raise_one_line(tmp_path, header, problem):
    path = tmp_path / "tedsd.csv"
    path.write_text(header)
    with pytest.raises(InputError) as err:
        list(teds.read_raw(path))
    assert problem in str(err.value) and str(path) in str(err.value)


@pytest.fixture(scope="module")
def discharges() -> tuple:
    adapter = provider.provider_discharges_adapter(KEY, datetime(2018, 11, 13), ["A1", "A2", "A3", "A4", "A5", "A6", "A7"])
    std = adapter.to_standard(_read(adapter.read_raw, DATA / "treatment_discharges_provider" / "discharges.csv"))
    return adapter, std, validate_frame(std, SUITES / "treatment_discharges.json", adapter.suite_parameters,
                                        id_column="admission_id")


def test_provider_discharges_canonical(discharges):
    adapter, std, _ = discharges
    assert adapter.schema is TREATMENT_DISCHARGES and "CLIENT_ID" in adapter.sensitive_columns
    assert TREATMENT_DISCHARGES.check(TREATMENT_DISCHARGES.coerce(std.iloc[:2])) == []
    assert std["length_of_stay_days"].tolist()[:3] == [41, 0, -30]
    assert std.loc[0, "client_key"] == pseudonymize(pd.Series(["C0000001"]), KEY).iloc[0]
    assert std["is_completed"].tolist()[:2] == [True, False]


@pytest.mark.parametrize("admission_id, column", [
    ("A3", "length_of_stay_days"), ("A4", "discharged_on"), ("A5", "discharge_reason"), ("A6", "client_key"),
    ("A7", "admission_id"), ("X9", "admission_id"), ("X9", "arrests_at_discharge"),
], ids=["before-admission", "impossible-date", "invalid-reason", "no-client", "discharged-twice",
        "unknown-admission", "invalid-arrests"])
def test_provider_suite_quarantines_each_defect(discharges, admission_id, column):
    _, _, out = discharges
    assert out.critical_failures == []
    hits = out.quarantine[out.quarantine["column_name"] == column]
    assert admission_id in set(hits["record_id"])


def test_provider_suite_keeps_clean_lines(discharges):
    _, std, out = discharges
    assert set(std.loc[out.valid_index, "admission_id"]) == {"A1", "A2"}

"""The synthetic provider export: determinism, realism of the clean rows, and the defect manifest."""
from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from schemas.teds_codes import CODEBOOK_VALUES, code_frequencies, load_teds_codes
from tasks.synthetic import treatment as demo
from tasks.sources.treatment_provider import read_raw


@pytest.fixture(scope="module")
def codes(data_dir):
    return load_teds_codes(data_dir)


@pytest.fixture(scope="module")
def reference(data_dir):
    return demo.load_address_reference(data_dir)


@pytest.fixture(scope="module")
def clean(codes, reference):
    return demo.generate_admissions(codes, *reference, n=20_000, seed=11, defect_rate=0.0)


@pytest.fixture(scope="module")
def defective(codes, reference):
    return demo.generate_admissions(codes, *reference, n=7_000, seed=5, defect_rate=0.02)


def test_reference_data(reference):
    blocks, intersections, zips = reference
    assert len(blocks) > 15_000 and blocks["block"].is_unique
    assert blocks["zip"].dropna().isin(zips).all()
    assert blocks["zip"].notna().mean() > 0.99
    assert intersections["zipcode"].dropna().str.fullmatch(r"\d{5}").all()


def test_same_seed_same_frames(codes, reference):
    a = demo.generate_admissions(codes, *reference, n=2_000, seed=3, defect_rate=0.05)
    b = demo.generate_admissions(codes, *reference, n=2_000, seed=3, defect_rate=0.05)
    c = demo.generate_admissions(codes, *reference, n=2_000, seed=4, defect_rate=0.05)
    for x, y in zip(a, b):
        pd.testing.assert_frame_equal(x, y)
    assert not a.export.equals(c.export)


def test_export_layout(clean):
    export = clean.export
    assert tuple(export.columns) == demo.EXPORT_COLUMNS
    assert len(export) == 20_000
    assert all(str(t) == "str" for t in export.dtypes)
    assert export["SYNTHETIC"].eq("Y").all()
    assert export["ADMISSION_ID"].is_unique
    assert export["CLIENT_ID"].str.fullmatch(r"C\d{7}").all()


def test_clean_rows_are_in_codebook_and_window(clean):
    export = clean.export
    for field in demo.CODE_FIELDS:
        assert export[field].astype(int).isin(CODEBOOK_VALUES[field]).all(), field
    dates = pd.to_datetime(export["ADMIT_DATE"], format=demo.DATE_FORMAT)
    assert dates.min() >= pd.Timestamp(demo.FIRST_DAY) and dates.max() <= pd.Timestamp(demo.LAST_DAY)
    assert dates.dt.year.nunique() == 4


@pytest.mark.parametrize("field", ["SUB1", "PSOURCE", "ROUTE1", "SERVICES"], ids=str)
def test_codes_follow_national_frequencies(clean, codes, field):
    observed = clean.export[field].astype(int).value_counts(normalize=True)
    expected = code_frequencies(codes, field)
    # 20,000 draws: a share's standard error is under 0.4 points.
    assert (observed.reindex(expected.index, fill_value=0) - expected).abs().max() < 0.02


def test_seasonality_and_weekdays(clean):
    dates = pd.to_datetime(clean.export["ADMIT_DATE"], format=demo.DATE_FORMAT)
    full_years = dates[dates.dt.year < 2018]
    by_month = full_years.dt.month.value_counts()
    assert by_month[[6, 7, 8]].mean() > by_month[[12, 1, 2]].mean() * 1.15
    weekday = dates.dt.dayofweek
    assert (weekday < 5).mean() > 0.85


def test_repeat_clients_and_prior_episodes(clean):
    export = clean.export
    visits = export["CLIENT_ID"].value_counts()
    assert 0.2 < (visits > 1).mean() < 0.6
    dates = pd.to_datetime(export["ADMIT_DATE"], format=demo.DATE_FORMAT)
    known = export.assign(d=dates, prior=export["NOPRIOR"].astype(int)).query("prior >= 0")
    steps = known.sort_values(["CLIENT_ID", "d"]).groupby("CLIENT_ID")["prior"].diff().dropna()
    assert (steps >= 0).all()  # NOPRIOR never falls for a client (it saturates at 5)
    # sex is a client trait
    assert export.groupby("CLIENT_ID")["GENDER"].nunique().eq(1).all()


def test_residence_mix_and_block_addresses(clean, reference):
    blocks = set(reference[0]["block"].str.upper())  # the police file spells 201 blocks in mixed case
    kinds = clean.truth["address_kind"].value_counts(normalize=True)
    assert 0.08 < kinds["zip_only"] < 0.12 and 0.03 < kinds["intersection"] < 0.07
    export = clean.export.assign(kind=clean.truth["address_kind"])
    zip_only = export[export["kind"] == "zip_only"]
    assert zip_only["ADDRESS"].eq("").all() and zip_only["ZIP"].str.fullmatch(r"\d{5}").all()
    on_block = export.loc[export["kind"] == "block", "ADDRESS"].str.upper().str.replace(r" APT \d+$", "", regex=True)
    parts = on_block.str.extract(r"^(\d+) (.+)$")
    house = parts[0].astype(int)
    masked = np.where(house < 100, "0000X " + parts[1], (house // 100).map("{:03d}XX ".format) + parts[1])
    assert pd.Series(masked).isin(blocks).all()
    assert clean.truth.loc[clean.truth["address_kind"] == "block", "source_area_id"].notna().all()


def test_defect_manifest_counts(defective):
    defects = defective.defects
    assert len(defects) == 140
    assert defects["defect"].value_counts().to_dict() == {k: 20 for k in demo.DEFECT_KINDS}
    assert defects["row"].is_unique
    originals = defects["duplicate_of"].dropna().astype(int)
    assert not set(originals) & set(defects["row"])


def test_each_defect_is_in_the_export(defective):
    export = defective.export
    for d in defective.defects.itertuples():
        row = export.iloc[d.row]
        if d.defect == "blank_code":
            assert row[d.field] == "" and d.field in demo.CODE_FIELDS
        elif d.defect == "invalid_code":
            assert row[d.field] in demo.INVALID_CODES
        elif d.defect == "impossible_date":
            assert pd.isna(pd.to_datetime(row["ADMIT_DATE"], format=demo.DATE_FORMAT, errors="coerce"))
        elif d.defect == "future_date":
            assert int(row["ADMIT_DATE"][-4:]) > 2050
        elif d.defect == "unparseable_address":
            assert row["ADDRESS"] in demo.UNPARSEABLE_ADDRESSES and row["ZIP"] == ""
        else:
            original = export.iloc[int(d.duplicate_of)]
            differs = [c for c in demo.EXPORT_COLUMNS if row[c] != original[c]]
            assert row["ADMISSION_ID"] == original["ADMISSION_ID"]
            assert differs == ([] if d.defect == "duplicate_identical" else ["SERVICES"])


def test_clean_export_has_no_defect_signs(clean):
    export = clean.export
    assert clean.defects.empty
    assert not export["ADDRESS"].isin(demo.UNPARSEABLE_ADDRESSES).any()
    assert export[list(demo.CODE_FIELDS)].ne("").all().all()


def test_write_demo_files(tmp_path, data_dir):
    out = demo.write_demo_admissions(tmp_path / "demo" / "admissions.csv", data_dir, n=1_500, seed=9)
    raw = read_raw(out)
    assert len(raw) == 1_500 and raw["SYNTHETIC"].eq("Y").all()
    meta = json.loads((tmp_path / "demo" / "admissions.meta.json").read_text())
    assert meta["synthetic"] is True and "SYNTHETIC" in meta["readme"]
    defects = pd.read_csv(tmp_path / "demo" / "admissions.defects.csv")
    assert sum(meta["defect_counts"].values()) == len(defects) == round(1_500 * 0.035)
    assert (tmp_path / "demo" / "admissions.truth.csv").exists()


def test_age_groups_age_with_the_client(clean):
    export = clean.export
    dates = pd.to_datetime(export["ADMIT_DATE"], format=demo.DATE_FORMAT)
    ages = export.assign(d=dates, age=export["AGE"].astype(int)).sort_values(["CLIENT_ID", "d"])
    assert (ages.groupby("CLIENT_ID")["age"].diff().dropna() >= 0).all()


@pytest.mark.parametrize("bad", [dict(n=0), dict(defect_rate=0.9)], ids=["n-zero", "rate-too-high"])
def test_bad_arguments(codes, reference, bad):
    with pytest.raises(ValueError):
        demo.generate_admissions(codes, *reference, **bad)


def test_address_spelling_varies(clean):
    addresses = clean.export["ADDRESS"]
    assert addresses.str.contains(" APT ").mean() > 0.04
    assert addresses.map(lambda a: bool(re.search(r"[a-z]", a))).mean() > 0.08

"""Code tables (dbt sources): IUCR offense codes and TEDS-A code labels, from the real files."""
from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa

from schemas.teds_codes import load_teds_codes
from schemas.errors import InputError
from warehouse.resource import Warehouse
from warehouse.load import init_warehouse
from warehouse.code_table_loader import load_code_tables
from warehouse.code_tables import iucr_reference, read_iucr_lookup, teds_reference

IUCR_FILE = "chicago_crimes/iucr_codes.csv"


@pytest.fixture(scope="module")
def lookup(data_dir) -> pd.DataFrame:
    return read_iucr_lookup(data_dir / IUCR_FILE)


def test_iucr_reference_pads_normalizes_and_categorizes(lookup):
    ref = iucr_reference(lookup)
    assert len(ref) == len(lookup) and ref["iucr"].is_unique and ref["iucr_normalized"].is_unique
    assert (ref["iucr"].str.len() == 4).all()
    by_code = ref.set_index("iucr")
    assert by_code.loc["0486", ["iucr_normalized", "primary_description", "is_drug_offense"]].tolist() == \
        ["486", "BATTERY", False]
    assert pd.isna(by_code.loc["0486", "nibrs_code"])
    assert by_code.loc["2027", ["offense_category", "nibrs_code"]].tolist() == ["possession", "35A"]
    assert by_code.loc["2110", ["offense_category", "nibrs_code"]].tolist() == ["paraphernalia", "35B"]
    drug = ref[ref["is_drug_offense"]]
    assert set(drug["primary_description"]) == {"NARCOTICS", "OTHER NARCOTIC VIOLATION"}
    assert not ref["is_supplementary"].any()  # this lookup already lists the firearm codes


def test_supplementary_codes_fill_an_older_lookup(lookup):
    older = lookup[~lookup["IUCR"].isin(["031A", "051B"])]
    ref = iucr_reference(older).set_index("iucr")
    assert ref.loc["031A", ["is_supplementary", "primary_description", "iucr_normalized"]].tolist() == \
        [True, "ROBBERY", "31A"]
    assert ref["is_supplementary"].sum() == 2


BAD_LOOKUPS = {
    "duplicate-after-padding": ("IUCR,PRIMARY DESCRIPTION,SECONDARY DESCRIPTION\n110,HOMICIDE,A\n0110,HOMICIDE,B\n",
                                "lookup.csv:3: IUCR '0110' repeats"),
    "missing-column": ("IUCR,PRIMARY DESCRIPTION\n110,HOMICIDE\n", "column 'SECONDARY DESCRIPTION' is missing"),
}


@pytest.mark.parametrize("text, message", list(BAD_LOOKUPS.values()), ids=list(BAD_LOOKUPS))
def test_bad_lookup_names_file_and_row(tmp_path, text, message):
    path = tmp_path / "lookup.csv"
    path.write_text(text)
    with pytest.raises(InputError) as e:
        iucr_reference(read_iucr_lookup(path), str(path))
    assert message in str(e.value)


def test_teds_reference_labels_codes(data_dir):
    ref = teds_reference(load_teds_codes(data_dir))
    assert not ref.duplicated(["variable", "code"]).any()
    sub1 = ref[ref["variable"] == "SUB1"].set_index("code")
    assert sub1.loc[5, "label"] == "Heroin" and not sub1.loc[5, "is_missing"]
    assert sub1.loc[-9, "is_missing"] and ref.loc[ref["is_missing"], "code"].eq(-9).all()
    assert ref[ref["variable"] == "PSOURCE"].set_index("code").loc[7, "label"].startswith("Court/criminal justice")


def test_load_code_tables_replaces_and_a_bad_file_changes_nothing(warehouse_url, data_dir, tmp_path):
    engine = Warehouse(warehouse_url)
    try:
        init_warehouse(engine)
        first = load_code_tables(engine, data_dir, data_dir / IUCR_FILE)
        assert load_code_tables(engine, data_dir, data_dir / IUCR_FILE) == first
        with engine.connect() as conn:
            counts = {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one() for t in first}
            padded = conn.execute(sa.text("SELECT iucr_normalized FROM ref_iucr_codes WHERE iucr = '0110'")).scalar_one()
        assert counts == first and counts["ref_iucr_codes"] == 401 and padded == "110"
        bad = tmp_path / "bad.csv"
        bad.write_text("IUCR,PRIMARY DESCRIPTION,SECONDARY DESCRIPTION\n110,HOMICIDE,A\n110,HOMICIDE,B\n")
        with pytest.raises(InputError):
            load_code_tables(engine, data_dir, bad)
        with pytest.raises(InputError, match="file not found"):
            load_code_tables(engine, tmp_path, data_dir / IUCR_FILE)  # no TEDS codebook there
        with engine.connect() as conn:
            assert {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one() for t in first} == first
    finally:
        engine.close()

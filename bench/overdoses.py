"""Print the overdose and community-voice figures of issue 12 on the real files.

Run from the project root: ``PULSE_DATA_DIR=../shared/data python bench/overdoses.py``.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyarrow as pa

from tasks.geocode.address_geocoder import AddressGeocoder
from tasks.geocode.case_locations import area_agreement, locate_cases
from tasks.geocode.crosswalk import carry_to_areas, police_crosswalk
from tasks.geocode.points import load_neighborhoods
from tasks.sources import community_survey, medical_examiner, police_sentiment
from tasks.trends.provisional import case_revisions, estimate_provisional_months, flag_completeness

DATA = Path(os.environ.get("PULSE_DATA_DIR", "../shared/data"))
HUB = {"layout": "hub", "label": "hub_opioid_2023-08"}
PORTAL = {"layout": "portal", "label": "portal_all_2018h1", "exported_at": "2018-07-01T00:00:00"}


def cases(name: str, cfg: dict) -> pd.DataFrame:
    adapter = medical_examiner.medical_examiner_adapter(cfg, "America/Chicago")
    raw = pa.Table.from_batches(list(adapter.read_raw(DATA / "cook_county_overdoses" / name))).to_pandas()
    std = adapter.to_standard(raw)
    return std[std["quarantine_reason"].isna()]


def main() -> None:
    hoods = load_neighborhoods(DATA / "chicago_boundaries/community_areas.geojson", "area_numbe", "community")
    late = cases("me_case_archive_opioid_related_2014_to_2023-07.csv.gz", HUB)
    early = cases("me_case_archive_2018-01_to_2018-06_all_cases.csv.gz", PORTAL)
    t = time.perf_counter()
    placed = locate_cases(late, hoods, projected_crs="EPSG:3435", xy_crs="EPSG:3435",
                          address_geocoder=lambda: AddressGeocoder.from_data_dir(DATA))
    print(f"geocode cases: {len(placed)} rows in {time.perf_counter() - t:.1f} s (incl. building the address geocoder)")
    year = placed["death_date"].dt.year
    by_source = placed["geocode_method"].isin(["latlon", "projected_xy", "source_area_name"]) & placed["neighborhood_id"].notna()
    anywhere = placed["neighborhood_id"].notna()
    for y in range(2015, 2019):
        print(f"opioid deaths in community areas {y}: {int((by_source & (year == y)).sum())} by point/area name, "
              f"{int((anywhere & (year == y)).sum())} incl. street/ZIP fallback")
    a = area_agreement(placed)
    print(f"area agreement (point vs source name): {a['n_agree']}/{a['n_compared']} = {a['share_agree']:.4%}")
    print("geocode methods:", placed.groupby(["geocode_method", "geocode_precision"]).size().to_dict())
    comp = flag_completeness(early, late)
    print("opioid-flag completeness of the early export:",
          ", ".join(f"{r.month} {r.n_early}/{r.n_late}={r.completeness:.2f}" for r in comp.itertuples()))
    for th in (0.8, 0.85, 0.9, 0.95):
        print(f"provisional months at completeness threshold {th}: {estimate_provisional_months(comp, th)}")
    rev = case_revisions(early, late)
    print("revisions early->late:", rev.groupby(["field", "old_value", "new_value"]).size()
          .sort_values(ascending=False).head(3).to_dict())
    b = DATA / "chicago_boundaries"
    pop = pd.read_csv(DATA / "chicago_population/community_area_population_2010.csv", dtype={"NID": str})
    cw = police_crosswalk(gpd.read_file(b / "police_beats.geojson"), gpd.read_file(b / "police_districts.geojson"), hoods,
                          projected_crs="EPSG:3435", population=pop.set_index("NID")["POP2010"])
    print("crosswalk rows:", cw.groupby("unit_level").size().to_dict(),
          "max |sum-1| per area:", float((cw.groupby(["unit_level", "neighborhood_id"])["weight"].sum() - 1).abs().max()))
    raw = pa.Table.from_batches(list(police_sentiment.read_raw(DATA / "chicago_community_survey/police_sentiment_scores_2017-11_to_2021-07.csv.gz"))).to_pandas()
    sent = police_sentiment.standardize_sentiment(raw)
    print("sentiment quarantine:", sent["quarantine_reason"].dropna().str.extract(r"^(exact duplicate|different scores)")[0].value_counts().to_dict())
    sent = sent[sent["quarantine_reason"].isna()]
    for level in ("district", "sector"):
        rows = sent[sent["unit_level"] == level]
        units = set(cw.loc[cw["unit_level"] == level, "unit_id"])
        print(f"{level} units without a polygon: {sorted(set(rows['unit_id']) - units)}")
    recent = sent[(sent["unit_level"] == "sector") & (sent["period_start"].dt.year == 2021)]
    mean21 = recent.groupby("unit_id", as_index=False)[["safety", "trust"]].mean().assign(period="2021")
    by_area = carry_to_areas(mean21, cw[cw["unit_level"] == "sector"], ["safety", "trust"], by=["period"])
    hcs = community_survey.standardize_indicators(pa.Table.from_batches(list(community_survey.read_raw(
        DATA / "chicago_community_survey/health_atlas_hcs_community_areas_2021-2022.csv"))).to_pandas())
    joined = by_area.merge(hcs[hcs["indicator_code"].isin(["HCSNSP", "HCSTLEP"])].pivot(
        index="neighborhood_id", columns="indicator_code", values="estimate").reset_index(), on="neighborhood_id")
    print(f"areas with 2021 sector sentiment: {len(by_area)}; Spearman r, CPD safety vs HCS perceived safety "
          f"2021-2022: {joined['safety'].corr(joined['HCSNSP'], method='spearman'):.2f}; CPD trust vs HCS trust in "
          f"law enforcement: {joined['trust'].corr(joined['HCSTLEP'], method='spearman'):.2f}")


if __name__ == "__main__":
    main()

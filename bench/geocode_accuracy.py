"""Accuracy of the offline address geocoder on real Chicago addresses with known coordinates.

Test set (read in place from the data directory): the Chicago rows of the SAMHSA treatment
facility list, the SAMHSA opioid treatment program directory and the 27 geocoded Chicago
methadone clinics. Prints the number of addresses, the share matched at street level or
better, the median and 90th percentile error in metres and the share of matched addresses
placed in the right community area (truth: the known coordinates joined to the areas).

Goals: >= 90% matched at street level or better, median error <= 150 m, >= 95% right area.
Also geocodes a sample of masked police blocks (``032XX W FILLMORE ST``) against the
incidents' own coordinates, and times it.

    python -m bench.geocode_accuracy [--data-dir PATH] [--worst 10]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from pyproj import Geod

from tasks.geocode.address_geocoder import AddressGeocoder

TRUTH_FILES = {
    # source: (file, encoding, address column, zip column, latitude, longitude, city, state)
    "samhsa_facilities": ("treatment_facilities/samhsa_substance_use_treatment_facilities.csv", "utf-8",
                          "street1", "zip", "latitude", "longitude", "city", "state"),
    # NOTE: this file is cp1252, not UTF-8 (PROVENANCE.md of treatment_facilities).
    "samhsa_otp": ("treatment_facilities/samhsa_otp_directory_geocoded.csv", "cp1252",
                   "ADDRESS", "POSTAL", "Latitude", "Longitude", "CITY", "STATE"),
    "methadone_clinics": ("treatment_facilities/chicago_methadone_clinics.csv", "utf-8",
                          "Address", "Zip", "Latitude", "Longitude", "City", "State"),
}
STREET_OR_BETTER = ("intersection", "street")
POLICE_FILE = "chicago_crimes/chicago_crimes_2017.csv.gz"
GOALS = {"pct_street_or_better": 90.0, "median_error_m": 150.0, "pct_right_area": 95.0}


def load_truth(data_dir: Path | str, sources: tuple[str, ...] = tuple(TRUTH_FILES)) -> pd.DataFrame:
    """Return one row per Chicago address of the test set: source, address, zip, latitude, longitude."""
    frames = []
    for source in sources:
        path, encoding, address, zip_code, lat, lon, city, state = TRUTH_FILES[source]
        raw = pd.read_csv(Path(data_dir) / path, encoding=encoding, dtype={zip_code: "str"})
        chicago = raw[raw[city].astype("str").str.strip().str.upper().eq("CHICAGO") & raw[state].eq("IL")]
        frames.append(pd.DataFrame({
            "source": source, "address": chicago[address], "zip": chicago[zip_code],
            "latitude": chicago[lat].astype(float), "longitude": chicago[lon].astype(float),
        }))
    return pd.concat(frames, ignore_index=True)


def measure_accuracy(geocoder: AddressGeocoder, truth: pd.DataFrame) -> tuple[dict[str, float], pd.DataFrame]:
    """Return (summary figures, one row per address with its geocode, error and area check)."""
    coded = geocoder.geocode(truth.drop(columns=["latitude", "longitude"]), "address", "zip")
    true_area = geocoder.assign_neighborhoods(truth["latitude"], truth["longitude"])["neighborhood_id"]
    _, _, dist = Geod(ellps="WGS84").inv(
        truth["longitude"].to_numpy(), truth["latitude"].to_numpy(),
        coded["longitude"].fillna(0).to_numpy(), coded["latitude"].fillna(0).to_numpy(),
    )
    detail = coded.assign(
        true_latitude=truth["latitude"], true_longitude=truth["longitude"], true_area=true_area,
        error_m=np.where(coded["latitude"].notna(), dist, np.nan),
        is_street_or_better=coded["geocode_precision"].isin(STREET_OR_BETTER),
    )
    detail["is_right_area"] = detail["neighborhood_id"].eq(detail["true_area"]).fillna(False)
    matched = detail[detail["is_street_or_better"]]
    # NOTE: a few known coordinates lie outside every community area (e.g. the OTP directory puts
    # 2800 S California Ave 13 km south of the jail there); they cannot judge the area.
    judged = matched[matched["true_area"].notna()]
    summary = {
        "n_addresses": float(len(detail)),
        "pct_street_or_better": 100.0 * float(detail["is_street_or_better"].mean()),
        "median_error_m": float(matched["error_m"].median()),
        "p90_error_m": float(matched["error_m"].quantile(0.9)),
        "pct_right_area": 100.0 * judged["is_right_area"].mean(),
        "n_truth_outside_areas": float(matched["true_area"].isna().sum()),
        "pct_zip_only": 100.0 * detail["geocode_precision"].eq("zip").mean(),
        "pct_zip_only_right_area": 100.0 * detail.loc[detail["geocode_precision"].eq("zip"), "is_right_area"].mean(),
    }
    return summary, detail


def measure_police_blocks(geocoder: AddressGeocoder, data_dir: Path | str, n: int, seed: int = 1) -> dict[str, float]:
    """Return match rate, error and right-area figures for a sample of masked police blocks.

    The incidents' own coordinates lie somewhere on the block (the block middle is the best a
    block can give), and their community area is the sjoin of those coordinates.
    """
    crimes = pd.read_csv(Path(data_dir) / POLICE_FILE, usecols=["Block", "Latitude", "Longitude"])
    sample = crimes.dropna().sample(min(n, len(crimes.dropna())), random_state=seed).reset_index(drop=True)
    started = time.perf_counter()
    coded = geocoder.geocode(sample, "Block")
    seconds = time.perf_counter() - started
    ok = coded["latitude"].notna()
    _, _, dist = Geod(ellps="WGS84").inv(sample.loc[ok, "Longitude"].to_numpy(), sample.loc[ok, "Latitude"].to_numpy(),
                                         coded.loc[ok, "longitude"].to_numpy(), coded.loc[ok, "latitude"].to_numpy())
    truth = geocoder.assign_neighborhoods(sample["Latitude"], sample["Longitude"])["neighborhood_id"]
    judged = ok & truth.notna()
    return {
        "n_rows": float(len(sample)), "n_distinct": float(sample["Block"].nunique()), "seconds": seconds,
        "pct_block_or_better": 100.0 * float(ok.mean()), "median_error_m": float(np.median(dist)),
        "p90_error_m": float(np.percentile(dist, 90)),
        "pct_right_area": 100.0 * float((coded["neighborhood_id"] == truth)[judged].mean()),
    }


def _print(title: str, summary: dict[str, float]) -> None:
    print(f"{title}: n={summary['n_addresses']:.0f}  street-or-better={summary['pct_street_or_better']:.1f}%  "
          f"median={summary['median_error_m']:.0f} m  p90={summary['p90_error_m']:.0f} m  "
          f"right area={summary['pct_right_area']:.1f}% (truth outside areas: {summary['n_truth_outside_areas']:.0f})  "
          f"zip-only={summary['pct_zip_only']:.1f}%")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=None, help="default: Settings().data_dir")
    parser.add_argument("--worst", type=int, default=10, help="list the N largest errors and the misses")
    parser.add_argument("--police-sample", type=int, default=50_000,
                        help="also geocode N masked police blocks (0 to skip)")
    args = parser.parse_args(argv)
    if args.data_dir is None:
        from flows.settings import Settings

        args.data_dir = Settings().data_dir
    geocoder = AddressGeocoder.from_data_dir(args.data_dir)
    truth = load_truth(args.data_dir)
    summary, detail = measure_accuracy(geocoder, truth)
    for source, rows in truth.groupby("source", sort=False):
        _print(f"{source:>18}", measure_accuracy(geocoder, rows.reset_index(drop=True))[0])
    _print(f"{'all':>18}", summary)
    met = {k: (summary[k] >= v if k != "median_error_m" else summary[k] <= v) for k, v in GOALS.items()}
    print("goals:", ", ".join(f"{k} {'met' if ok else 'NOT met'}" for k, ok in met.items()))
    if args.police_sample:
        p = measure_police_blocks(geocoder, args.data_dir, args.police_sample)
        print(f"{'police blocks':>18}: n={p['n_rows']:.0f} ({p['n_distinct']:.0f} distinct) in {p['seconds']:.1f} s  "
              f"block-or-better={p['pct_block_or_better']:.1f}%  median={p['median_error_m']:.0f} m  "
              f"p90={p['p90_error_m']:.0f} m  right area={p['pct_right_area']:.1f}%")
    if args.worst:
        cols = ["source", "address", "geocode_method", "match_score", "error_m", "neighborhood_id", "true_area",
                "geocode_note"]
        detail = detail.assign(source=truth["source"])
        with pd.option_context("display.width", 200, "display.max_colwidth", 70):
            print(detail[detail["is_street_or_better"]].nlargest(args.worst, "error_m")[cols].to_string())
            misses = detail[~detail["is_street_or_better"]]
            if len(misses):
                print(misses[cols].to_string())
    return 0 if all(met.values()) else 1


if __name__ == "__main__":
    sys.exit(main())

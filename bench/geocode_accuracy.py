"""Accuracy of the offline address geocoder on real Chicago addresses with known coordinates.

Test set (read in place from the data directory): the Chicago rows of the SAMHSA treatment
facility list, the SAMHSA opioid treatment program directory and the 27 geocoded Chicago
methadone clinics. Prints the number of addresses, the share matched at street level or
better, the median and 90th percentile error in metres and the share of matched addresses
placed in the right community area (truth: the known coordinates joined to the areas).

Goals: >= 90% matched at street level or better, median error <= 150 m, >= 95% right area.

    python -m bench.geocode_accuracy [--data-dir PATH] [--worst 10]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from pyproj import Geod

from tasks.address_geocoder import AddressGeocoder

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
    summary = {
        "n_addresses": float(len(detail)),
        "pct_street_or_better": 100.0 * detail["is_street_or_better"].mean(),
        "median_error_m": float(matched["error_m"].median()),
        "p90_error_m": float(matched["error_m"].quantile(0.9)),
        "pct_right_area": 100.0 * matched["is_right_area"].mean(),
        "pct_zip_only": 100.0 * detail["geocode_precision"].eq("zip").mean(),
        "pct_zip_only_right_area": 100.0 * detail.loc[detail["geocode_precision"].eq("zip"), "is_right_area"].mean(),
    }
    return summary, detail


def _print(title: str, summary: dict[str, float]) -> None:
    print(f"{title}: n={summary['n_addresses']:.0f}  street-or-better={summary['pct_street_or_better']:.1f}%  "
          f"median={summary['median_error_m']:.0f} m  p90={summary['p90_error_m']:.0f} m  "
          f"right area={summary['pct_right_area']:.1f}%  zip-only={summary['pct_zip_only']:.1f}%")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=None, help="default: Settings().data_dir")
    parser.add_argument("--worst", type=int, default=10, help="list the N largest errors and the misses")
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
    if args.worst:
        cols = ["source", "address", "geocode_method", "match_score", "error_m", "neighborhood_id", "true_area", "geocode_note"]
        detail = detail.assign(source=truth["source"])
        with pd.option_context("display.width", 200, "display.max_colwidth", 70):
            print(detail[detail["is_street_or_better"]].nlargest(args.worst, "error_m")[cols].to_string())
            print(detail[~detail["is_street_or_better"]][cols].to_string())
    return 0 if all(met.values()) else 1


if __name__ == "__main__":
    sys.exit(main())

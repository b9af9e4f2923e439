"""Synthetic treatment admissions shaped like a provider export (demo and test data only).

Admission records are confidential, so the pipeline is exercised on generated rows: code fields
drawn from the real 2017 TEDS-A national frequencies (``schemas/teds_codes.py``), residences on
real Chicago blocks (from the police data's masked ``Block``) and intersections, and a known set
of realistic defects recorded in a manifest so tests can check that validation catches each one.
Every row says ``SYNTHETIC = Y``; nothing here describes a real person.
"""
from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from schemas.teds_codes import CODEBOOK_VALUES, code_frequencies, load_teds_codes

EXPORT_COLUMNS = (
    "ADMISSION_ID", "PROVIDER_ID", "CLIENT_ID", "ADMIT_DATE", "AGE", "GENDER", "SUB1", "SUB2",
    "ROUTE1", "FREQ1", "PSOURCE", "NOPRIOR", "SERVICES", "ADDRESS", "ZIP", "SYNTHETIC",
)
CODE_FIELDS = ("AGE", "GENDER", "SUB1", "SUB2", "ROUTE1", "FREQ1", "PSOURCE", "NOPRIOR", "SERVICES")
DATE_FORMAT = "%m/%d/%Y"
FIRST_DAY = date(2015, 1, 1)
LAST_DAY = date(2018, 11, 12)  # same window as the police incident files
DEFECT_KINDS = (
    "blank_code", "invalid_code", "impossible_date", "future_date",
    "duplicate_identical", "duplicate_conflicting", "unparseable_address",
)
ADDRESS_KINDS = ("block", "intersection", "zip_only")
ADDRESS_KIND_SHARES = (0.85, 0.05, 0.10)
N_PROVIDERS = 12

INVALID_CODES = ("99", "-1", "UNK")
UNPARSEABLE_ADDRESSES = ("HOMELESS", "UNKNOWN", "N/A", "REFUSED", "SEE CHART", "NONE", "XXXXX")
# Places a police report calls a residence: their blocks stand in for residential addresses.
RESIDENTIAL_LOCATIONS = (
    "RESIDENCE", "APARTMENT", "RESIDENTIAL YARD (FRONT/BACK)", "RESIDENCE PORCH/HALLWAY",
    "RESIDENCE-GARAGE", "DRIVEWAY - RESIDENTIAL", "CHA APARTMENT", "CHA HALLWAY/STAIRWELL/ELEVATOR",
)
_BLOCK = re.compile(r"^(?:(\d{3})XX|0000X) (.+)$")
_AGE_RANGE = re.compile(r"(\d+)\D+(\d+)")
_AGE_OPEN = re.compile(r"(\d+) years and older")


class DemoAdmissions(NamedTuple):
    export: pd.DataFrame  # EXPORT_COLUMNS, all text, one row per exported line
    defects: pd.DataFrame  # row, admission_id, defect, field, value, duplicate_of
    truth: pd.DataFrame  # row, address_kind, source_area_id (community area of the block)


def _draw(rng: np.random.Generator, codes: pd.DataFrame, variable: str, size: int) -> np.ndarray:
    p = code_frequencies(codes, variable)
    return rng.choice(p.index.to_numpy(dtype="int64"), size=size, p=p.to_numpy())


def _age_bounds(codes: pd.DataFrame) -> pd.DataFrame:
    """Return per AGE code its lowest and highest age in years, parsed from the labels."""
    rows = []
    for value, label in codes.loc[codes["variable"] == "AGE", ["value", "label"]].itertuples(index=False):
        if m := _AGE_OPEN.search(label):
            lo, hi = int(m.group(1)), 80
        elif m := _AGE_RANGE.search(label):
            lo, hi = int(m.group(1)), int(m.group(2))
        else:
            raise ValueError(f"cannot read an age range from AGE label {label!r}")
        rows.append((int(value), lo, hi))
    return pd.DataFrame(rows, columns=["code", "lo", "hi"]).sort_values("lo").reset_index(drop=True)


def _day_weights(days: pd.DatetimeIndex) -> np.ndarray:
    # Seasonality with a summer peak, fewer admissions at weekends, and a mild upward trend.
    doy = days.dayofyear.to_numpy()
    season = 1 + 0.15 * np.cos(2 * np.pi * (doy - 196) / 365.25)
    weekday = np.where(days.dayofweek.to_numpy() < 5, 1.0, np.where(days.dayofweek.to_numpy() == 5, 0.35, 0.2))
    years = (days - days[0]).days.to_numpy() / 365.25
    w = season * weekday * (1 + 0.05 * years)
    return w / w.sum()


def _house_addresses(rng: np.random.Generator, blocks: pd.Series) -> np.ndarray:
    """Turn masked blocks (``032XX W FILLMORE ST``) into house addresses on that block."""
    parts = blocks.str.extract(_BLOCK)
    hundreds = pd.to_numeric(parts[0], errors="coerce").fillna(0).astype("int64").to_numpy()
    house = hundreds * 100 + rng.integers(0, 100, size=len(blocks))
    house = np.where(house == 0, 1, house)  # the 0000X block has no house number 0
    return (pd.Series(house.astype(str)) + " " + parts[1].fillna("").to_numpy()).to_numpy()


def _vary_spelling(rng: np.random.Generator, addresses: np.ndarray) -> np.ndarray:
    # Exports are typed by people: some mixed case, some unit numbers.
    out = pd.Series(addresses, dtype="str")
    title = rng.random(len(out)) < 0.15
    out[title] = out[title].str.title()
    unit = rng.random(len(out)) < 0.08
    out[unit] = out[unit] + " APT " + pd.Series(rng.integers(1, 40, unit.sum()).astype(str), index=out[unit].index)
    return out.to_numpy()


def _residences(rng, size, blocks, intersections, zips) -> pd.DataFrame:
    """Return ``size`` residences: kind, ADDRESS, ZIP, source_area_id."""
    kind = rng.choice(np.array(ADDRESS_KINDS), size=size, p=ADDRESS_KIND_SHARES)
    address = np.full(size, "", dtype=object)
    zip_code = np.full(size, "", dtype=object)
    area = np.full(size, None, dtype=object)
    b = np.flatnonzero(kind == "block")
    pick = blocks.iloc[rng.integers(0, len(blocks), len(b))]
    address[b] = _vary_spelling(rng, _house_addresses(rng, pick["block"].reset_index(drop=True)))
    zip_code[b] = np.where(rng.random(len(b)) < 0.92, pick["zip"].fillna("").to_numpy(), "")
    area[b] = pick["community_area"].to_numpy()
    i = np.flatnonzero(kind == "intersection")
    pick = intersections.iloc[rng.integers(0, len(intersections), len(i))]
    sep = np.where(rng.random(len(i)) < 0.7, " & ", " AND ")
    address[i] = pick["street_1"].to_numpy() + sep + pick["street_2"].to_numpy()
    zip_code[i] = pick["zipcode"].fillna("").to_numpy()
    z = np.flatnonzero(kind == "zip_only")
    # ZIP-only residences follow where the reference blocks are (a population proxy).
    weights = blocks["zip"].value_counts().reindex(zips, fill_value=0).to_numpy(dtype=float) + 1.0
    zip_code[z] = rng.choice(np.asarray(zips, dtype=object), size=len(z), p=weights / weights.sum())
    return pd.DataFrame({"address_kind": kind, "ADDRESS": address, "ZIP": zip_code, "source_area_id": area})


def _clean_admissions(codes, blocks, intersections, zips, n, rng) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (export rows without defects, truth) for n admissions sorted by date."""
    sizes = rng.geometric(0.6, size=n)  # admissions per client: most once, some many times
    sizes = sizes[: int(np.searchsorted(np.cumsum(sizes), n)) + 1]
    sizes[-1] -= sizes.sum() - n
    n_clients = len(sizes)
    client = np.repeat(np.arange(n_clients), sizes)
    client_ids = rng.choice(9_000_000, size=n_clients, replace=False) + 1_000_000

    days = pd.date_range(FIRST_DAY, LAST_DAY, freq="D")
    admitted = days[rng.choice(len(days), size=n, p=_day_weights(days))]
    order = np.lexsort((admitted.to_numpy(), client))
    admitted = admitted[order]  # ascending within each client
    first = np.r_[0, np.cumsum(sizes)[:-1]]
    episode = np.arange(n) - np.repeat(first, sizes)  # 0 for a client's first admission here

    # Per-client traits, then per-admission values derived from them.
    bounds = _age_bounds(codes)
    age_code0 = _draw(rng, codes, "AGE", n_clients)
    b = bounds.set_index("code").loc[age_code0]
    age0 = rng.uniform(b["lo"].to_numpy(), b["hi"].to_numpy() + 1)
    first_day = admitted[first]
    years_on = (admitted - np.repeat(first_day, sizes)).days.to_numpy() / 365.25
    age = np.repeat(age0, sizes) + years_on
    age_group = bounds["code"].to_numpy()[np.clip(np.searchsorted(bounds["lo"].to_numpy(), age, "right") - 1, 0, None)]

    sub1 = np.where(rng.random(n) < 0.8, np.repeat(_draw(rng, codes, "SUB1", n_clients), sizes),
                    _draw(rng, codes, "SUB1", n))
    sub2 = _draw(rng, codes, "SUB2", n)
    for _ in range(3):  # a secondary substance differs from the primary one
        same = (sub2 == sub1) & (sub1 > 1)
        sub2[same] = _draw(rng, codes, "SUB2", int(same.sum()))
    sub2[(sub2 == sub1) & (sub1 > 1)] = 1

    noprior_p = code_frequencies(codes, "NOPRIOR")
    base_prior = _draw(rng, codes.loc[~((codes["variable"] == "NOPRIOR") & (codes["value"] < 0))], "NOPRIOR", n_clients)
    noprior = np.minimum(np.repeat(base_prior, sizes) + episode, 5)
    noprior[rng.random(n) < noprior_p.get(-9, 0.0)] = -9

    home_provider = rng.integers(0, N_PROVIDERS, n_clients)
    provider = np.where(rng.random(n) < 0.7, np.repeat(home_provider, sizes), rng.integers(0, N_PROVIDERS, n))

    homes = _residences(rng, n_clients, blocks, intersections, zips)
    res = homes.iloc[np.repeat(np.arange(n_clients), sizes)].reset_index(drop=True)
    moved = np.flatnonzero((episode > 0) & (rng.random(n) < 0.1))
    res.iloc[moved] = _residences(rng, len(moved), blocks, intersections, zips).to_numpy()

    frame = pd.DataFrame({
        "PROVIDER_ID": [f"IL-TX-{p + 1:04d}" for p in provider],
        "CLIENT_ID": [f"C{c:07d}" for c in client_ids[client]],
        "_admitted": admitted,
        "AGE": age_group,
        "GENDER": np.repeat(_draw(rng, codes, "GENDER", n_clients), sizes),
        "SUB1": sub1, "SUB2": sub2,
        "ROUTE1": _draw(rng, codes, "ROUTE1", n), "FREQ1": _draw(rng, codes, "FREQ1", n),
        "PSOURCE": _draw(rng, codes, "PSOURCE", n), "NOPRIOR": noprior,
        "SERVICES": _draw(rng, codes, "SERVICES", n),
        "ADDRESS": res["ADDRESS"], "ZIP": res["ZIP"],
    })
    truth = res[["address_kind", "source_area_id"]]
    by_date = np.lexsort((client, admitted.to_numpy()))
    frame, truth = frame.iloc[by_date].reset_index(drop=True), truth.iloc[by_date].reset_index(drop=True)
    frame.insert(0, "ADMISSION_ID", [f"A{i + 1:08d}" for i in range(n)])
    frame.insert(3, "ADMIT_DATE", frame.pop("_admitted").dt.strftime(DATE_FORMAT))
    for col in CODE_FIELDS:
        frame[col] = frame[col].astype("int64").astype("str")
    frame["SYNTHETIC"] = "Y"
    frame = frame[list(EXPORT_COLUMNS)].astype("str")
    truth = truth.assign(source_area_id=truth["source_area_id"].astype("str"))
    return frame, truth


def _impossible_date(rng: np.random.Generator, year: int) -> str:
    non_leap = year if year % 4 else year + 1
    options = (f"02/30/{year}", f"04/31/{year}", f"02/29/{non_leap}", f"13/{rng.integers(1, 29):02d}/{year}",
               f"{rng.integers(1, 13):02d}/32/{year}")
    return options[rng.integers(len(options))]


def _inject_defects(export, truth, defect_rate, rng) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Return (export, truth, defects) with one defect on each of round(n * defect_rate) rows."""
    n = len(export)
    n_def = int(round(n * defect_rate))
    kinds = np.array([DEFECT_KINDS[i % len(DEFECT_KINDS)] for i in range(n_def)], dtype=object)
    perm = rng.permutation(n)
    rows = perm[:n_def]
    originals = iter(perm[n_def:])  # clean rows that duplicates copy
    out, truth = export.copy(), truth.copy()
    ids = out.columns.get_loc("ADMISSION_ID")
    records = []
    for row, kind in zip(rows.tolist(), kinds):
        dup_of = None
        if kind in ("blank_code", "invalid_code"):
            field = CODE_FIELDS[rng.integers(len(CODE_FIELDS))]
            value = "" if kind == "blank_code" else INVALID_CODES[rng.integers(len(INVALID_CODES))]
        elif kind == "impossible_date":
            field, value = "ADMIT_DATE", _impossible_date(rng, int(out.at[row, "ADMIT_DATE"][-4:]))
        elif kind == "future_date":
            # A year with swapped digits (2017 -> 2071) is the usual typo.
            old = out.at[row, "ADMIT_DATE"]
            field, value = "ADMIT_DATE", old[:-2] + old[-1] + old[-2]
        elif kind == "unparseable_address":
            field, value = "ADDRESS", UNPARSEABLE_ADDRESSES[rng.integers(len(UNPARSEABLE_ADDRESSES))]
            out.at[row, "ZIP"] = ""
            truth.loc[row, ["address_kind", "source_area_id"]] = ["none", None]
        else:
            dup_of = int(next(originals))
            out.iloc[row] = out.iloc[dup_of].to_numpy()
            truth.iloc[row] = truth.iloc[dup_of].to_numpy()
            field, value = "ADMISSION_ID", out.iat[row, ids]
            if kind == "duplicate_conflicting":
                # Same admission id, but the record was edited: another service setting.
                old = int(out.at[row, "SERVICES"])
                others = [c for c in CODEBOOK_VALUES["SERVICES"] if c != old]
                field, value = "SERVICES", str(others[rng.integers(len(others))])
        out.at[row, field] = value
        records.append((row, out.iat[row, ids], kind, field, value, dup_of))
    defects = pd.DataFrame(records, columns=["row", "admission_id", "defect", "field", "value", "duplicate_of"])
    defects = defects.astype({"row": "int64", "admission_id": "str", "defect": "str", "field": "str",
                              "value": "str", "duplicate_of": "Int64"})
    return out, truth, defects.sort_values("row").reset_index(drop=True)


def generate_admissions(codes: pd.DataFrame, blocks: pd.DataFrame, intersections: pd.DataFrame,
                        zips: list[str], n: int = 20_000, seed: int = 2017,
                        defect_rate: float = 0.035) -> DemoAdmissions:
    """Return a synthetic provider export (one row per exported admission line) and its manifests.

    Args:
        codes: ``load_teds_codes`` output (values and 2017 frequencies).
        blocks: block, community_area, zip (masked police blocks on residential premises).
        intersections: street_1, street_2, zipcode (5 digits or null).
        zips: the city's ZIP codes (ZIP-only residences are drawn from these).
        defect_rate: share of rows given exactly one defect, split evenly over DEFECT_KINDS.
    Same seed, same inputs -> identical frames.
    """
    if n < 1:
        raise ValueError("n must be at least 1")
    if not 0 <= defect_rate <= 0.5:
        raise ValueError("defect_rate must be between 0 and 0.5")
    rng = np.random.default_rng(seed)
    export, truth = _clean_admissions(codes, blocks, intersections, list(zips), n, rng)
    export, truth, defects = _inject_defects(export, truth, defect_rate, rng)
    truth.insert(0, "row", np.arange(n, dtype="int64"))
    return DemoAdmissions(export, defects, truth)


# ---------------------------------------------------------------------------------------------
# IO edge: reference data from the shared data directory, and writing the demo files.

def assign_block_zips(blocks: pd.DataFrame, zip_polygons: gpd.GeoDataFrame) -> pd.Series:
    """Return the ZIP (ZCTA) containing each block's median point (null when outside all or no point)."""
    pts = gpd.GeoDataFrame(blocks[[]], geometry=gpd.points_from_xy(blocks["longitude"], blocks["latitude"]),
                           crs="EPSG:4326")
    zp = zip_polygons[["ZCTA5CE10", "geometry"]].to_crs("EPSG:4326")
    geoms = pts.geometry.array
    joined = gpd.sjoin(pts[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))], zp, how="left", predicate="within")
    joined = joined[~joined.index.duplicated(keep="first")]
    return joined["ZCTA5CE10"].reindex(blocks.index).astype("str").rename("zip")


def load_address_reference(data_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Return (blocks, intersections, zips) from the shared data: residential police blocks of 2017
    with their community area and ZIP, named intersections with a 5-digit ZIP, and Chicago ZCTAs."""
    data_dir = Path(data_dir)
    crimes = pd.read_csv(data_dir / "chicago_crimes/chicago_crimes_2017.csv.gz", dtype="str",
                         usecols=["Block", "Community Area", "Location Description", "Latitude", "Longitude"])
    crimes = crimes[crimes["Location Description"].isin(RESIDENTIAL_LOCATIONS)]
    # NOTE: 201 of these blocks are spelled in mixed case ("005XX N kingsbury st"); kept as
    # published, since typed exports have the same kind of variation.
    crimes = crimes.assign(lat=pd.to_numeric(crimes["Latitude"]), lon=pd.to_numeric(crimes["Longitude"]))
    grouped = crimes.groupby("Block", sort=True)
    blocks = pd.DataFrame({
        "community_area": grouped["Community Area"].agg(lambda s: s.mode().iat[0]),
        "latitude": grouped["lat"].median(), "longitude": grouped["lon"].median(),
    }).rename_axis("block").reset_index()
    zip_polygons = gpd.read_file(data_dir / "chicago_boundaries/chicago_zips.shp")
    blocks["zip"] = assign_block_zips(blocks, zip_polygons).to_numpy()
    inter = pd.read_csv(data_dir / "chicago_address/chicago_intersections_dannguyen.csv", dtype="str")
    # NOTE: 142 intersections carry a 1-character zipcode and 112 none; those export without a ZIP.
    inter["zipcode"] = inter["zipcode"].where(inter["zipcode"].str.fullmatch(r"\d{5}", na=False))
    zips = sorted(zip_polygons["ZCTA5CE10"].astype("str"))
    return blocks[["block", "community_area", "zip"]], inter[["street_1", "street_2", "zipcode"]], zips


def write_demo_admissions(out_path: Path, data_dir: Path, n: int = 20_000, seed: int = 2017,
                          defect_rate: float = 0.035) -> Path:
    """Write the synthetic export CSV plus ``.defects.csv``, ``.truth.csv`` and ``.meta.json``; return the CSV path."""
    out_path = Path(out_path)
    codes = load_teds_codes(data_dir)
    blocks, intersections, zips = load_address_reference(data_dir)
    demo = generate_admissions(codes, blocks, intersections, zips, n=n, seed=seed, defect_rate=defect_rate)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    demo.export.to_csv(out_path, index=False)
    stem = out_path.with_suffix("")
    demo.defects.to_csv(f"{stem}.defects.csv", index=False)
    demo.truth.to_csv(f"{stem}.truth.csv", index=False)
    meta = {
        "synthetic": True,
        "readme": "SYNTHETIC demo data generated by tasks/synthetic/treatment.py. Code fields follow the "
                  "2017 TEDS-A national frequencies; addresses are real Chicago blocks and intersections "
                  "with random house numbers. No row describes a real person.",
        "seed": seed, "n": n, "defect_rate": defect_rate,
        "date_range": [FIRST_DAY.isoformat(), LAST_DAY.isoformat()],
        "defect_counts": demo.defects["defect"].value_counts().sort_index().to_dict(),
        "columns": list(EXPORT_COLUMNS),
    }
    Path(f"{stem}.meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return out_path

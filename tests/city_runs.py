"""Run a mapped city source through the adapter side of the pipeline, in memory, and count.

Per file, as the batch path does: read_raw -> to_standard -> adapter quarantine -> the police
suite (GX) -> geocode (tasks/geocode/points.py) -> ``to_incidents`` with the offense rows stored
so far (cross-batch netting) -> merge: offense rows replace by offense_id; incidents replace by
incident_id when updated_at is newer, and their offense-derived columns are always refreshed.
Used by the slow tests on the real files and by bench/cities.py.
"""
from __future__ import annotations

import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa

from schemas.city_config import CityTable
from schemas.incidents import INCIDENT_OFFENSES, INCIDENTS
from tasks.geocode.points import assign_neighborhoods, load_neighborhoods
from tasks.ingest.police_feed import suite_parameters
from tasks.ingest.validate import validate_frame
from tasks.sources.adapter import QUARANTINE_REASON
from tasks.sources.incident_adapters import mapped_adapter
from tasks.sources.incident_grain import OFFENSE_FIELDS
from tasks.sources.mapped_config import parse_mapped_source, resolve_files

REPO = Path(__file__).resolve().parents[1]
SUITE = REPO / "expectations" / "police_incidents.json"


@dataclass
class CityRun:
    rows_read: int = 0
    rows_loaded: int = 0
    quarantine: dict[str, int] = field(default_factory=dict)  # reason -> rows
    quarantined_ids: set = field(default_factory=set)
    ids_read: set = field(default_factory=set)
    encodings: dict[str, int] = field(default_factory=dict)
    layouts: dict[str, int] = field(default_factory=dict)
    standardize_seconds: float = 0.0
    grain_seconds: float = 0.0
    offenses: pd.DataFrame | None = None
    incidents: pd.DataFrame | None = None
    loaded_rows: list[pd.DataFrame] = field(default_factory=list)  # geocoded offense rows (a few columns)

    @property
    def rows_quarantined(self) -> int:
        return sum(self.quarantine.values())


def _merge_offenses(stored: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([stored[~stored["offense_id"].isin(new["offense_id"])], new], ignore_index=True)


def _merge_incidents(stored: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    old = stored.set_index("incident_id")
    fresh = new.set_index("incident_id")
    both = fresh.index.intersection(old.index)
    newer = both[(fresh.loc[both, "updated_at"] > old.loc[both, "updated_at"]).fillna(False).to_numpy()]
    keep_old = both.difference(newer)
    # Offense-derived columns were netted over every stored offense row: always take them.
    old.loc[keep_old, list(OFFENSE_FIELDS)] = fresh.loc[keep_old, list(OFFENSE_FIELDS)]
    replaced = fresh.index.difference(keep_old)
    out = pd.concat([old.drop(index=replaced.intersection(old.index)), fresh.loc[replaced]])
    return INCIDENTS.coerce(out.reset_index())


def run_city(config: Path, slug: str, data_dir: Path, *, files: int | None = None,
             cross_batch: bool = True) -> CityRun:
    """Return the counts of loading every configured file of ``[sources.<slug>]`` in file order."""
    with open(config, "rb") as fh:
        city = tomllib.load(fh)
    cfg = parse_mapped_source(city["sources"][slug], file=config, slug=slug)
    adapter = mapped_adapter(cfg, slug=slug, city_timezone=city["city"]["timezone"])
    nb_cfg = city["neighborhoods"]
    neighborhoods = load_neighborhoods(data_dir / nb_cfg["file"], nb_cfg["id_field"], nb_cfg["name_field"],
                                       nb_cfg.get("crs", "EPSG:4326"))
    params = suite_parameters(CityTable.model_validate(city["city"]), None, cfg.earliest_date)
    run = CityRun(offenses=INCIDENT_OFFENSES.empty_frame(), incidents=INCIDENTS.empty_frame())
    for path in resolve_files(data_dir, cfg.files)[:files]:
        batches = list(adapter.read_raw(path))
        meta = batches[0].schema.metadata or {}
        enc = meta.get(b"pulse.encoding", b"?").decode() + ("+bom" if meta.get(b"pulse.bom") == b"true" else "")
        run.encodings[enc] = run.encodings.get(enc, 0) + 1
        layout = meta.get(b"pulse.layout", b"?").decode()
        run.layouts[layout] = run.layouts.get(layout, 0) + 1
        raw = pa.Table.from_batches(batches).to_pandas()
        t0 = time.perf_counter()
        std = adapter.to_standard(raw)
        run.standardize_seconds += time.perf_counter() - t0
        run.rows_read += len(std)
        run.ids_read |= set(std["incident_id"].dropna())
        if QUARANTINE_REASON in std:
            bad = std[QUARANTINE_REASON].notna()
            _count(run, std.loc[bad, QUARANTINE_REASON], std.loc[bad, "incident_id"])
            std = std.loc[~bad].drop(columns=[QUARANTINE_REASON])
        outcome = validate_frame(std, SUITE, params, id_column="incident_id", where=str(path))
        assert not outcome.critical_failures, outcome.critical_failures
        q = outcome.quarantine.drop_duplicates("row_index")
        _count(run, q["reason"], q["record_id"])
        valid = std.loc[outcome.valid_index]
        geo = assign_neighborhoods(valid, neighborhoods, projected_crs=city["city"]["projected_crs"],
                                   xy_crs=cfg.coordinates.xy_crs, snap_tolerance_m=250.0)
        run.rows_loaded += len(geo)
        run.loaded_rows.append(geo[["incident_id", "neighborhood_id", "source_area_id", "geocode_precision",
                                    "is_drug_offense", "offense_count"]])
        t0 = time.perf_counter()
        ids = geo["incident_id"].unique()
        stored = run.offenses[run.offenses["incident_id"].isin(ids)] if cross_batch else None
        frames = adapter.to_incidents(geo, stored_offenses=stored) if adapter.to_incidents else None
        run.grain_seconds += time.perf_counter() - t0
        incidents = frames.incidents if frames else INCIDENTS.coerce(geo)
        if frames:
            run.offenses = _merge_offenses(run.offenses, frames.offenses)
        run.incidents = _merge_incidents(run.incidents, incidents) if len(run.incidents) else incidents
    return run


def _count(run: CityRun, reasons: pd.Series, ids: pd.Series) -> None:
    for reason, n in reasons.value_counts().items():
        run.quarantine[str(reason)] = run.quarantine.get(str(reason), 0) + int(n)
    run.quarantined_ids |= set(ids.dropna().astype(str))


def agreement(run: CityRun) -> tuple[int, float]:
    """Return (rows with both a geocoded and a source neighborhood, share where they agree) over point rows."""
    rows = pd.concat(run.loaded_rows, ignore_index=True)
    both = rows[rows["geocode_precision"].isin(["point", "snapped"]) & rows["neighborhood_id"].notna()
                & rows["source_area_id"].notna()]
    return len(both), float((both["neighborhood_id"] == both["source_area_id"]).mean())

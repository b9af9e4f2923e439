"""Print the ingest figures of a mapped city source on the real files (adapter, police suite,
geocoder, incident grain; tests/city_runs.py), e.g. the issue-10 targets for St. Louis and Boston.

Usage: .venv/bin/python bench/cities.py [st_louis|boston ...]
Prints per city: rows read/loaded/quarantined (with reasons), layouts, encodings, incidents,
drug incidents, the sum of offense counts over drug rows, neighborhood agreement, and timings.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.city_runs import agreement, run_city  # noqa: E402

CITIES = {"st_louis": ("config/st_louis.toml", "police_st_louis"), "boston": ("config/boston.toml", "police_boston")}


def main(names: list[str]) -> None:
    data = Path(os.environ.get("PULSE_DATA_DIR", REPO.parent / "shared" / "data"))
    for name in names or list(CITIES):
        config, slug = CITIES[name]
        t0 = time.perf_counter()
        run = run_city(REPO / config, slug, data)
        inc, off = run.incidents, run.offenses
        drug = int((inc["is_drug_offense"] & ~inc["is_reversed"]).sum())
        n, share = agreement(run)
        print(f"city={name} rows_read={run.rows_read} rows_loaded={run.rows_loaded} "
              f"rows_quarantined={run.rows_quarantined} incidents={len(inc)} reversed={int(inc['is_reversed'].sum())} "
              f"drug_incidents={drug} drug_offense_count_sum={int(off.loc[off['is_drug_offense'], 'offense_count'].sum())} "
              f"distinct_ids_read={len(run.ids_read)} agreement_rows={n} agreement={share:.4f} "
              f"standardize_seconds={run.standardize_seconds:.1f} grain_seconds={run.grain_seconds:.1f} "
              f"total_seconds={time.perf_counter() - t0:.0f}")
        print(f"  quarantine={run.quarantine}")
        print(f"  layouts={run.layouts} encodings={run.encodings}")


if __name__ == "__main__":
    main(sys.argv[1:])

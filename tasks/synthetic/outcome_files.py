"""``pulse demo-data arrests`` as one step: read the generator's inputs (warehouse + demo files),
write the SYNTHETIC arrests, linked admissions and discharges exports with their truth files, and
mark each export synthetic (``<name>.meta.json``, read by ``treatment_feeds.export_is_synthetic``).
"""
from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import Engine

from tasks.synthetic.arrests import DemoOutcomes, write_demo_outcomes
from tasks.synthetic.outcome_inputs import read_outcome_inputs

EXPORTS = ("arrests.csv", "treatment_admissions_linked.csv", "treatment_discharges.csv")


def write_outcome_demo(out_dir: Path, engine: Engine, programs_dir: Path, admissions_path: Path, data_dir: Path,
                       *, seed: int, planted_rr: float, defect_rate: float) -> DemoOutcomes:
    """Generate and write the outcomes demo into ``out_dir``; return the frames (truth included)."""
    inputs = read_outcome_inputs(engine, Path(programs_dir), Path(admissions_path), Path(data_dir))
    demo = write_demo_outcomes(out_dir, inputs, seed=seed, planted_rr=planted_rr, defect_rate=defect_rate)
    for name in EXPORTS:
        meta = {"synthetic": True, "generator": "tasks.synthetic.arrests", "seed": seed, "planted_rr": planted_rr,
                "planted_programs": demo.truth["planted_programs"]}
        (Path(out_dir) / name).with_suffix(".meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return demo


def demo_summary(demo: DemoOutcomes) -> str:
    """Return one line describing what was written (counts, planted effect)."""
    t = demo.truth
    return (f"{t['n_arrests']:,} arrests of {t['n_people_arrested']:,} people ({t['n_participants']:,} program "
            f"participations, planted risk ratio {t['planted_rr']} for {', '.join(t['planted_programs'])}), "
            f"{t['n_linked_admissions']:,} linked admissions, {t['n_discharges']:,} discharges, "
            f"{sum(t['defect_counts'].values())} planted defects")

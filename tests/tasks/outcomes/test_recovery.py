"""The pipeline recovers the planted effect on re-arrest and finds none where none was planted."""
from __future__ import annotations

import re
from datetime import datetime

import pytest

from tasks.outcomes.demo_run import load_demo
from tasks.outcomes.recovery import program_effects, recovery_line, recovery_summary
from tasks.synthetic.arrests import DEFAULT_SEED, PLANTED_PROGRAMS, PLANTED_RR, generate_outcomes_demo
from tasks.synthetic.outcome_inputs import demo_inputs, real_arrests_from_files

LINE = re.compile(r"^planted_rr=\d\.\d+ estimated_rr=\d\.\d+ ci=\[\d\.\d+,\d\.\d+\] null_programs_significant=\d+$")


def test_recovery_line_format():
    line = recovery_line({"planted_rr": 0.75, "estimated_rr": 0.8261, "ci": (0.7159, 0.9533),
                          "null_programs_significant": 1})
    assert line == "planted_rr=0.75 estimated_rr=0.826 ci=[0.716,0.953] null_programs_significant=1"
    assert LINE.match(line)


@pytest.mark.slow
def test_planted_effect_is_recovered_on_the_demo(data_dir):
    """The bench's default run: real arrests, default demo seeds, every feed through its suite."""
    inputs = demo_inputs(data_dir, real_arrests_from_files(data_dir))
    demo = generate_outcomes_demo(inputs, seed=DEFAULT_SEED)
    loaded = load_demo(demo, inputs, data_dir, b"recovery-test-synthetic-key-0001", datetime(2018, 11, 13))
    effects = program_effects(loaded.participation, loaded.arrests, inputs.skeleton["arrested_on"].max(),
                              seed=DEFAULT_SEED)
    s = recovery_summary(effects, PLANTED_PROGRAMS, PLANTED_RR)
    assert s["covered"] and s["below_one"], s
    assert s["null_programs"] == 3 and s["null_programs_significant"] <= 1, s
    assert LINE.match(recovery_line(s))

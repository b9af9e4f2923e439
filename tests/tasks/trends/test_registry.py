"""The trend method registry: discovery, outputs, alarm decisions (what replaced startswith("ears_"))."""
from __future__ import annotations

import pandas as pd
import pytest

from tasks.trends.registry import KINDS, Method, alarm_mask, alarm_outputs, method, method_of, methods


def test_registered_methods_have_kind_grains_description():
    found = {m.name: m for m in methods()}
    assert {"ears", "glm_baseline", "glm_pooled", "mann_kendall"} <= set(found)
    for m in found.values():
        assert m.kind in KINDS and m.grains and m.description and m.outputs
        assert "\n" not in m.description
    assert found["ears"].outputs == ("ears_c1", "ears_c2", "ears_c3")
    assert found["glm_baseline"].headline and not found["ears"].headline
    assert found["mann_kendall"].is_alarm is None


def test_method_of_maps_row_names_to_methods():
    assert method_of("ears_c2").name == "ears"
    assert method_of("glm_cusum").name == "glm_baseline"
    assert method_of("seasonal_mann_kendall").name == "mann_kendall"
    with pytest.raises(KeyError, match="no trend method produces"):
        method_of("nope")
    with pytest.raises(KeyError, match="registered"):
        method("nope")


def test_alarm_outputs_replace_the_prefix_test():
    assert {"ears_c1", "ears_c2", "ears_c3", "glm_spike", "glm_cusum"} <= set(alarm_outputs("spike"))
    assert set(alarm_outputs("spike", headline=True)) >= {"glm_spike", "glm_cusum"}
    assert "ears_c1" not in alarm_outputs("spike", headline=True)


def test_alarm_mask_reads_each_methods_rule():
    rows = pd.DataFrame({"method": ["ears_c1", "ears_c3", "glm_cusum", "seasonal_mann_kendall", "emerging_hotspot"],
                         "level": ["alarm", "none", "alarm", "increasing", "new_hot_spot"]})
    assert alarm_mask(rows).tolist() == [True, False, True, False, False]


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="kind must be one of"):
        Method("x", "forecast", ("day",), "d", lambda i, g: pd.DataFrame())

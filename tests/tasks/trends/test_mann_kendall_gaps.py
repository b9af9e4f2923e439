"""Mann-Kendall on series with gaps: uncovered periods are missing (NaN), pinned to pymannkendall."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pymannkendall as mk
import pytest

from schemas.errors import InputError
from tasks.trends.methods.mann_kendall import mann_kendall_trends
from tasks.trends.series import wide_series


def monthly(values, area="7", start="2015-01-01"):
    return pd.DataFrame({"neighborhood_id": area, "period_start": pd.date_range(start, periods=len(values), freq="MS"),
                         "value": np.asarray(values, dtype=float)})


RISING = 50 + 0.8 * np.arange(48) + np.tile([0, 3, 6, 4, 1, -2, -5, -3, 0, 2, 4, -1], 4)
GAP = slice(20, 26)  # six months the source did not deliver


def gapped(values):
    frame = monthly(values)
    covered = frame["period_start"].drop(frame.index[GAP])
    # The feed has no rows in the gap: the aggregation gives nothing (which would read as 0).
    return frame.drop(frame.index[GAP]), pd.DatetimeIndex(covered)


@pytest.mark.parametrize("seasonal", [True, False], ids=["seasonal", "original"])
def test_gap_equals_pymannkendall_on_nan(seasonal):
    frame, covered = gapped(RISING)
    got = mann_kendall_trends(frame, "m", seasonal=seasonal, add_citywide=False, covered=covered).iloc[0]
    x = RISING.astype(float).copy()
    x[GAP] = np.nan
    direct = mk.seasonal_test(x, period=12) if seasonal else mk.original_test(x)
    assert got["statistic"] == pytest.approx(direct.z)
    assert got["p_value"] == pytest.approx(direct.p)
    assert got["score"] == pytest.approx(direct.slope * (1 if seasonal else 12))
    d = json.loads(got["details"])
    assert d["n_missing"] == 6 and d["n_periods"] == 48
    assert d["s"] == pytest.approx(direct.s) and d["var_s"] == pytest.approx(direct.var_s)


def test_a_gap_does_not_read_as_a_fall():
    flat = np.full(48, 40.0) + np.tile([1, -1, 2, -2], 12)
    frame = monthly(flat)
    delivered = frame.iloc[:36]  # the source stopped delivering for the last year
    as_zeros = pd.concat([delivered, frame.iloc[36:].assign(value=0.0)], ignore_index=True)
    covered = pd.DatetimeIndex(delivered["period_start"])
    zeros = mann_kendall_trends(as_zeros, "m", add_citywide=False).iloc[0]
    gap = mann_kendall_trends(as_zeros, "m", add_citywide=False, covered=covered).iloc[0]
    assert zeros["level"] == "decreasing"  # what the old zero-filling reported
    assert gap["level"] == "no_trend"
    assert json.loads(gap["details"])["n_missing"] == 12


def test_covered_gaps_are_nan_in_every_series_and_citywide():
    frame = pd.concat([monthly(RISING, "1"), monthly(RISING[::-1], "2")], ignore_index=True)
    covered = pd.DatetimeIndex(monthly(RISING)["period_start"]).delete([5, 6])
    wide = wide_series(frame, "MS", covered=covered)
    assert wide.iloc[[5, 6]].isna().all().all()
    assert wide.iloc[[4, 7]].notna().all().all()


def test_too_few_observed_periods_is_an_input_error():
    frame = monthly(np.arange(10.0))
    with pytest.raises(InputError, match="observed periods"):
        mann_kendall_trends(frame, "m", covered=pd.DatetimeIndex(frame["period_start"][:3]))

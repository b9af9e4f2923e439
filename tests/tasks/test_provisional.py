"""Provisional window from the revisions two exports show; marking provisional periods."""
from __future__ import annotations

import pandas as pd
import pytest

from tasks.trends.provisional import (ProvisionalWindow, case_revisions, estimate_provisional_months,
                                      flag_completeness, mark_provisional, provisional_windows)


def cases(label, rows):
    return pd.DataFrame([{"case_number": c, "export_label": label, "death_date": pd.Timestamp(d), "is_opioid_related": f,
                          "manner": m} for c, d, f, m in rows])


EARLY = cases("early", [("a", "2018-01-05", True, "ACCIDENT"), ("b", "2018-02-05", False, "PENDING"),
                        ("c", "2018-03-05", False, "PENDING"), ("d", "2018-03-09", True, "ACCIDENT")])
LATE = cases("late", [("a", "2018-01-05", True, "ACCIDENT"), ("b", "2018-02-05", True, "ACCIDENT"),
                      ("c", "2018-03-05", True, "ACCIDENT"), ("d", "2018-03-09", True, "ACCIDENT"),
                      ("e", "2018-03-20", True, "ACCIDENT")])


def test_completeness_by_months_back():
    got = flag_completeness(EARLY, LATE)
    assert got["month"].tolist() == ["2018-01", "2018-02", "2018-03"]
    assert got["months_back"].tolist() == [2, 1, 0]
    assert got["completeness"].tolist() == pytest.approx([1.0, 0.0, 1 / 3])


@pytest.mark.parametrize("threshold,expected", [(0.9, 2), (0.3, 0), (1.0, 2)])
def test_window_is_the_run_of_incomplete_recent_months(threshold, expected):
    assert estimate_provisional_months(flag_completeness(EARLY, LATE), threshold) == expected


def test_revisions_list_changed_fields_only():
    rev = case_revisions(EARLY, LATE, fields=("is_opioid_related", "manner"))
    assert sorted(zip(rev["case_number"], rev["field"])) == [("b", "is_opioid_related"), ("b", "manner"),
                                                             ("c", "is_opioid_related"), ("c", "manner")]
    assert set(rev["old_label"]) == {"early"} and set(rev["new_label"]) == {"late"}


def test_windows_per_export_with_override():
    w = provisional_windows({"hub": "2023-07", "portal": "2018-06"}, 5, overrides={"portal": 0})
    assert w["hub"].first_provisional_month == pd.Period("2023-03", "M")
    assert w["portal"].n_months == 0 and w["portal"].first_provisional_month is None


@pytest.mark.parametrize("freq,starts,expected", [
    ("M", ["2023-01-01", "2023-02-01", "2023-03-01", "2023-07-01"], [False, False, True, True]),
    ("W", ["2023-02-20", "2023-02-27", "2023-03-06"], [False, True, True]),
    ("D", ["2023-02-28", "2023-03-01"], [False, True]),
], ids=["month", "week-straddling", "day"])
def test_mark_provisional(freq, starts, expected):
    frame = pd.DataFrame({"start": pd.to_datetime(starts), "n": range(len(starts))})
    out = mark_provisional(frame, "start", ProvisionalWindow("hub", pd.Period("2023-07", "M"), 5), freq)
    assert out["is_provisional"].tolist() == expected
    assert "is_provisional" not in frame


def test_real_exports_give_a_five_month_window(data_dir):
    from tests.tasks.sources.test_medical_examiner import HUB_CFG, HUB_FILE, PORTAL_CFG, PORTAL_FILE, standardize

    late = standardize(data_dir / HUB_FILE, HUB_CFG)
    early = standardize(data_dir / PORTAL_FILE, PORTAL_CFG)
    early = early[early["quarantine_reason"].isna()]
    comp = flag_completeness(early, late)
    assert comp["n_early"].tolist() == [98, 83, 78, 40, 36, 34]  # 369
    assert comp["n_late"].tolist() == [100, 95, 103, 87, 91, 88]  # 564 by local date of death
    assert estimate_provisional_months(comp, 0.9) == 5
    assert estimate_provisional_months(comp, 0.85) == 4
    rev = case_revisions(early, late)
    flips = rev[(rev["field"] == "is_opioid_related")]
    assert len(flips) == 179 and set(zip(flips["old_value"], flips["new_value"])) == {("False", "True")}

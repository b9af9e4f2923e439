"""The health group on the full real files (slow): issue 12's figures from the warehouse.

Opioid-related deaths placed in Chicago community areas by local date of death, 2015-2018, from
the later export: 409 / 712 / 766 / 760 (PROVENANCE.md) within 1%; agreement between the point's
area and the examiner's own area name >= 99%; the early export's undercount visible in the case
versions while the warehouse keeps the revised values; every row loaded or quarantined.
"""
from __future__ import annotations

import pytest

from flows.feeds import run_feed_group
from tests.support.dbt import dbt_build
from tests.warehouse_sql import q

TARGETS = {2015: 409, 2016: 712, 2017: 766, 2018: 760}


@pytest.mark.slow
def test_health_group_on_the_real_files(prefect_harness, settings_factory, duckdb_url, tmp_path):
    settings = settings_factory(duckdb_url)
    out = run_feed_group("health", settings=settings)
    assert {s["status"] for s in out} == {"loaded"}
    audit = q(duckdb_url, "SELECT source, sum(rows_read), sum(rows_loaded), sum(rows_quarantined), sum(rows_updated) "
                          "FROM load_audit WHERE status = 'loaded' GROUP BY source ORDER BY source")
    assert all(read == loaded + held for _, read, loaded, held, _ in audit)
    by_source = {r[0]: r[1:] for r in audit}
    assert by_source["me_hub_2023"][0] == 12_321 and by_source["me_portal_2018h1"][0] == 2_940
    assert by_source["police_sentiment"][0] == 4_744
    # 70 exact duplicates and the two conflicting citywide rows are quarantined, with their reasons.
    dups = q(duckdb_url, "SELECT count(DISTINCT row_index) FROM quarantine_police_sentiment "
                         "WHERE reason LIKE 'exact duplicate of data row %'")[0][0]
    assert dups == 70
    dbt_build(duckdb_url, tmp_path / "work")
    located = dict(q(duckdb_url, "SELECT CAST(extract(year FROM month_start) AS INTEGER), sum(n_opioid_deaths_located) "
                                 "FROM int_overdose_deaths_month GROUP BY 1"))
    for year, target in TARGETS.items():
        assert abs(located[year] - target) <= 0.01 * target, (year, located[year])
    n, agree = q(duckdb_url, """
        SELECT count(*), count(*) FILTER (WHERE neighborhood_id = source_area_id)
        FROM fct_medical_examiner_cases
        WHERE geocode_method IN ('latlon', 'projected_xy') AND neighborhood_id IS NOT NULL
          AND source_area_id IS NOT NULL""")[0]
    assert n > 8000 and agree / n >= 0.99
    # The early export's undercount: 369 opioid deaths in 2018-01..06 there, the revised values kept.
    early, stored = q(duckdb_url, """
        SELECT (SELECT count(*) FROM fct_medical_examiner_case_versions
                 WHERE export_label = 'portal_all_2018h1' AND is_opioid_related),
               (SELECT count(*) FROM fct_medical_examiner_cases
                 WHERE is_opioid_related AND death_date BETWEEN DATE '2018-01-01' AND DATE '2018-06-30')""")[0]
    assert early == 369 and stored >= 562
    window = q(duckdb_url, "SELECT window_export_label, CAST(provisional_from AS VARCHAR) FROM int_overdose_window")
    assert window == [("hub_opioid_2023-08", "2023-03-01")]
    # The same window estimated from the revisions the two exports show (opioid-flag completeness < 0.9).
    assert q(duckdb_url, "SELECT estimated_provisional_months FROM ref_death_exports "
                         "WHERE export_label = 'hub_opioid_2023-08'") == [(5,)]

"""Run the warehouse's dbt project from a test, without Prefect (no task per node: fast)."""
from __future__ import annotations

from pathlib import Path

from flows.models import run_dbt
from warehouse.dbt_project import dbt_args, dbt_paths, dbt_target, dbt_vars, selection_args
from warehouse.dbt_results import node_results, read_artifact


def dbt(url: str, work_dir: Path, *command: str, threshold: int = 10, select: tuple[str, ...] = (),
        has_code_table: bool = True) -> tuple[str | None, list[dict]]:
    """Run one dbt command (e.g. "build") on the warehouse at ``url``; return (error line or None, node rows)."""
    paths = dbt_paths(work_dir)
    error = run_dbt(dbt_args(list(command), paths, dbt_vars(threshold, has_code_table), selection_args(select)), dbt_target(url), paths,
                    node_tasks=False)
    return error, node_results(read_artifact(paths.run_results), read_artifact(paths.manifest))


def dbt_build(url: str, work_dir: Path, threshold: int = 10, select: tuple[str, ...] = ()) -> list[dict]:
    """``dbt build`` the project; fail the test with dbt's own line when a node fails."""
    error, rows = dbt(url, work_dir, "build", threshold=threshold, select=select)
    bad = [r for r in rows if r["status"] in ("error", "fail")]
    assert error is None and not bad, f"dbt build failed: {error}; {[(r['name'], r['message']) for r in bad][:3]}"
    return rows

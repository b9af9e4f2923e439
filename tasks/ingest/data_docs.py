"""Great Expectations Data Docs for validated batches, built into one folder across runs.

``tasks/ingest/validate.py`` runs suites with ``Batch.validate`` and keeps only per-expectation counts
(results are not persisted, for speed). Here those counts, aggregated per batch, become genuine
GX validation results: one ``ExpectationSuiteValidationResult`` per batch whose expectation
configurations come from the suite JSON. They go to a file-backed GX validation-results store
under the docs folder, so every batch ever validated stays listed in ``index.html``.

Layout of ``validation_dir``: ``index.html``, ``validations/<suite>/<run>/<time>/<batch>.html``,
``expectations/<suite>.html``, ``static/`` (written by GX's SiteBuilder; ``static/vendor/`` holds
local copies of the CSS/JS GX's templates load from CDNs, see ``tasks/ingest/docs_assets.py``, so
the site is complete and styled offline) and ``store/results``, ``store/suites`` (GX JSON stores).
"""
from __future__ import annotations

import json
import logging
import re
import threading
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tasks.ingest.docs_assets import localize_site

log = logging.getLogger(__name__)

EXPECTATIONS_DIR = Path(__file__).resolve().parents[2] / "expectations"
SITE_NAME = "pulse_validation"
# Sampled failing values shown per expectation (GX's own default for partial lists is 20).
MAX_SAMPLE = 20
_lock = threading.Lock()


def _safe(text: str) -> str:
    """Return ``text`` usable as one path segment of a GX store key (and readable in a URL)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", str(text)).strip("-.") or "run"


def _column_of(kwargs: dict) -> str | None:
    # Same rule as tasks/ingest/validate.py::run_suite: pair expectations are named by column_A.
    return kwargs.get("column") or kwargs.get("column_A")


def match_expectations(suite: dict, validation: list[dict]) -> list[dict]:
    """Return, per summary in ``validation``, the suite expectation (JSON dict) it came from.

    Summaries are matched in order to the first unused suite expectation with the same type,
    column and ``on_failure``; suites that only say ``meta.severity`` (the treatment ones get
    ``on_failure`` at run time) match on type and column. Raises ``LookupError`` naming the first
    summary no suite expectation fits.
    """
    used: set[int] = set()
    matched = []
    for s in validation:
        key = (s.get("expectation"), s.get("column"))
        candidates = [i for i, e in enumerate(suite["expectations"])
                      if i not in used and (e.get("type"), _column_of(e.get("kwargs", {}))) == key]
        exact = [i for i in candidates
                 if suite["expectations"][i].get("meta", {}).get("on_failure") == s.get("on_failure")]
        loose = [i for i in candidates if "on_failure" not in suite["expectations"][i].get("meta", {})]
        pick = (exact or loose or [None])[0]
        if pick is None:
            raise LookupError(f"{s.get('expectation')}({s.get('column')}, on_failure={s.get('on_failure')}) "
                              f"is not in suite {suite.get('name')}")
        used.add(pick)
        matched.append(suite["expectations"][pick])
    return matched


def _expectation_result(spec: dict, summary: dict):
    from great_expectations.core.expectation_validation_result import ExpectationValidationResult
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    rows = int(summary.get("rows_checked") or 0)
    failures = int(summary.get("failures") or 0)
    result: dict[str, Any] = {
        "element_count": rows,
        "unexpected_count": failures,
        "unexpected_percent": 100.0 * failures / rows if rows else 0.0,
    }
    sample = summary.get("partial_unexpected_list")
    if sample:
        result["partial_unexpected_list"] = [str(v) for v in list(sample)[:MAX_SAMPLE]]
    config = ExpectationConfiguration(type=spec["type"], kwargs=dict(spec.get("kwargs", {})),
                                      meta={**spec.get("meta", {}), "on_failure": summary.get("on_failure")},
                                      severity=spec.get("severity", "critical"))
    return ExpectationValidationResult(success=bool(summary.get("success")), expectation_config=config,
                                       result=result)


def suite_validation_result(suite: dict, batch: dict, run_id) -> Any:
    """Return one GX ``ExpectationSuiteValidationResult`` for a batch's aggregated summaries."""
    from great_expectations import __version__ as gx_version
    from great_expectations.core.expectation_validation_result import ExpectationSuiteValidationResult

    validation = batch.get("validation") or []
    results = [_expectation_result(spec, s) for spec, s in zip(match_expectations(suite, validation), validation)]
    passed = sum(bool(r.success) for r in results)
    origin = str(batch.get("origin") or batch["batch_id"])
    asset = Path(origin).name or origin
    return ExpectationSuiteValidationResult(
        success=passed == len(results),
        results=results,
        suite_name=suite["name"],
        statistics={"evaluated_expectations": len(results), "successful_expectations": passed,
                    "unsuccessful_expectations": len(results) - passed,
                    "success_percent": 100.0 * passed / len(results) if results else None},
        meta={"run_id": run_id.to_json_dict(), "great_expectations_version": gx_version,
              "validation_time": datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ"),
              "batch_spec": {"data_asset_name": asset, "path": origin},
              "active_batch_definition": {"data_asset_name": asset, "batch_identifiers": {},
                                          "datasource_name": "", "data_connector_name": ""}},
        batch_id=str(batch["batch_id"]),
    )


def _docs_context(validation_dir: Path):
    """Return an ephemeral GX context whose suites, results and docs site live under ``validation_dir``.

    Built directly, not through ``gx.get_context``, so the "current" context that
    ``tasks/ingest/validate.py`` uses is left alone.
    """
    from great_expectations.data_context.data_context.ephemeral_data_context import EphemeralDataContext
    from great_expectations.data_context.types.base import DataContextConfig

    def files(folder: Path) -> dict:
        return {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(folder)}

    config = DataContextConfig(
        expectations_store_name="suites",
        validation_results_store_name="results",
        checkpoint_store_name="checkpoints",
        stores={
            "suites": {"class_name": "ExpectationsStore", "store_backend": files(validation_dir / "store" / "suites")},
            "results": {"class_name": "ValidationResultsStore",
                        "store_backend": files(validation_dir / "store" / "results")},
            "checkpoints": {"class_name": "CheckpointStore", "store_backend": {"class_name": "InMemoryStoreBackend"}},
            "validation_definition_store": {"class_name": "ValidationDefinitionStore",
                                            "store_backend": {"class_name": "InMemoryStoreBackend"}},
        },
        data_docs_sites={SITE_NAME: {
            "class_name": "SiteBuilder", "show_how_to_buttons": False, "store_backend": files(validation_dir),
            # GX files runs whose name contains "profiling" under a profiling section by default;
            # every run here is a validation, whatever the flow run is called.
            "site_section_builders": {"profiling": "None",
                                      "validations": {"run_name_filter": {"matches_regex": ".*"}}},
        }},
        analytics_enabled=False,
    )
    return EphemeralDataContext(project_config=config)


@contextmanager
def _current_if_none(ctx) -> Iterator[None]:
    """Make ``ctx`` GX's current context only while none is set (then unset it again).

    NOTE: GX 1.24 reads the current context while loading a stored suite
    (``ExpectationSuite._include_rendered_content`` -> ``project_manager.is_using_cloud()``) and
    raises DataContextRequiredError in a process that never called ``gx.get_context``. A context
    set by someone else (tasks/ingest/validate.py) is left in place.
    """
    from great_expectations.data_context import project_manager, set_context
    from great_expectations.exceptions import DataContextRequiredError

    try:
        project_manager.get_current_project()
    except DataContextRequiredError:
        set_context(ctx)
        try:
            yield
        finally:
            set_context(None)
        return
    yield


def _store_suite(ctx, suite: dict) -> None:
    from great_expectations.core.expectation_suite import ExpectationSuite

    stored = ctx.suites.add_or_update(ExpectationSuite(**{**suite, "id": None}))
    if len(stored.expectations) != len(suite["expectations"]):
        # NOTE: GX drops an expectation it cannot parse (unknown type) with only a log line.
        raise ValueError(f"GX accepted {len(stored.expectations)} of {len(suite['expectations'])} expectations")


def _store_results(ctx, groups: list[tuple[Path, list[dict]]], run_id) -> list:
    """Store each suite and each batch's result; return the GX keys of what was stored."""
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    stored: list = []
    for suite_path, batches in groups:
        try:
            suite = json.loads(Path(suite_path).read_text(encoding="utf-8"))
            _store_suite(ctx, suite)
        except Exception as exc:  # noqa: BLE001 - docs never fail the pipeline
            log.warning("data docs: suite %s not usable (%s: %s); its batches are left out",
                        suite_path, type(exc).__name__, exc)
            continue
        stored.append(ExpectationSuiteIdentifier(suite["name"]))
        for batch in batches:
            try:
                result = suite_validation_result(suite, batch, run_id)
                key = ValidationResultIdentifier(ExpectationSuiteIdentifier(suite["name"]), run_id,
                                                 _safe(batch["batch_id"]))
                ctx.validation_results_store.set(key, result)
            except Exception as exc:  # noqa: BLE001
                log.warning("data docs: batch %s of %s left out (%s: %s)", batch.get("batch_id"), suite_path,
                            type(exc).__name__, exc)
                continue
            stored.append(key)
    return stored


def _build(validation_dir: Path, groups: list[tuple[Path, list[dict]]], run_name: str) -> Path:
    """Store the results of every group (suite file, batches) and render the pages they add."""
    index = validation_dir / "index.html"
    try:
        from great_expectations.core.run_identifier import RunIdentifier

        folder = validation_dir.resolve()
        folder.mkdir(parents=True, exist_ok=True)
        with _lock:
            ctx = _docs_context(folder)
            with _current_if_none(ctx):
                run_id = RunIdentifier(run_name=_safe(run_name), run_time=datetime.now(timezone.utc))
                stored = _store_results(ctx, groups, run_id)
                if stored:
                    # Only the new pages are rendered; the index lists every result in the store.
                    ctx.build_data_docs(site_names=[SITE_NAME], resource_identifiers=stored)
                    localize_site(folder)
    except Exception as exc:  # noqa: BLE001
        log.warning("data docs in %s not built (%s: %s); validation results are unaffected",
                    validation_dir, type(exc).__name__, exc)
    return index


def build_data_docs(validation_dir: Path, suite_path: Path, batch_results: list[dict], run_name: str) -> Path:
    """Return ``validation_dir/index.html`` after adding one GX validation result per batch.

    ``batch_results`` items are ``{"batch_id", "origin", "validation": [per-expectation summary
    dicts as made by tasks/ingest/validate.py, aggregated over the batch]}``. Never raises: a GX error,
    an unreadable suite or a summary that matches no suite expectation is logged as a warning
    (that batch is left out) and the path is returned anyway.
    """
    return _build(Path(validation_dir), [(Path(suite_path), list(batch_results))], run_name)


def suite_for_table(table: str, expectations_dir: Path = EXPECTATIONS_DIR) -> Path | None:
    """Return the suite file whose ``meta.guards`` names ``table`` first, or None."""
    for path in sorted(Path(expectations_dir).glob("*.json")):
        try:
            guards = str(json.loads(path.read_text(encoding="utf-8")).get("meta", {}).get("guards", ""))
        except (OSError, ValueError):
            continue
        if guards.split(" ", 1)[0] == table:
            return path
    return None


def build_summary_docs(validation_dir: Path, summaries: list[dict], run_name: str,
                       expectations_dir: Path = EXPECTATIONS_DIR) -> Path:
    """Return ``validation_dir/index.html`` after documenting every batch summary that carries results.

    Summaries are those of ``flows.feed_runs.load_batches`` (``table`` names the guarded table, whose
    suite is found by ``suite_for_table``); skipped batches and batches without a ``validation``
    list are not documented. Never raises.
    """
    groups: dict[Path, list[dict]] = defaultdict(list)
    for s in summaries:
        if not s.get("validation"):
            continue
        suite_path = suite_for_table(str(s.get("table", "")), expectations_dir)
        if suite_path is None:
            log.warning("data docs: no suite in %s guards table %r; batch %s left out", expectations_dir,
                        s.get("table"), s.get("batch_id"))
            continue
        groups[suite_path].append(s)
    if not groups:
        return Path(validation_dir) / "index.html"
    return _build(Path(validation_dir), list(groups.items()), run_name)

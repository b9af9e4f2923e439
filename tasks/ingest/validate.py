"""Run a Great Expectations suite (JSON in ``expectations/``) on a frame.

Each expectation's ``meta.on_failure`` says what a failure does: ``fail_batch`` (nothing from
the batch loads; the run fails with the expectation named) or ``quarantine`` (the offending rows
are set aside with the reason and value; the rest goes on). ``meta.scope == "batch"`` marks
expectations that only make sense over a whole batch (uniqueness); they run in
``validate_batch_keys`` on the key columns, not per chunk.
"""
from __future__ import annotations

import json
import logging
import os
import threading
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

QUARANTINE_COLUMNS = ["row_index", "record_id", "expectation", "column_name", "value", "reason"]
_lock = threading.Lock()


@dataclass
class ValidationOutcome:
    """Result of one suite run on one frame."""

    valid_index: pd.Index
    quarantine: pd.DataFrame  # QUARANTINE_COLUMNS; one row per (row, failed expectation)
    results: list[dict[str, Any]] = field(default_factory=list)  # per expectation summary
    critical_failures: list[str] = field(default_factory=list)

    @property
    def n_quarantined(self) -> int:
        return int(self.quarantine["row_index"].nunique()) if len(self.quarantine) else 0


@lru_cache(maxsize=8)
def load_suite_json(path: str) -> dict:
    """Return the suite JSON as a dict (cached per path)."""
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def _parameters_of(node) -> set[str]:
    if isinstance(node, dict):
        if "$PARAMETER" in node:
            return {node["$PARAMETER"]}
        return set().union(*(_parameters_of(v) for v in node.values())) if node else set()
    if isinstance(node, list):
        return set().union(*(_parameters_of(v) for v in node)) if node else set()
    return set()


def _split_suite(suite: dict, scope: str, parameters: dict[str, Any] | None = None) -> dict:
    """Expectations of one scope; those whose run-time parameter is given as None are skipped."""
    params = parameters or {}
    exps = [e for e in suite["expectations"]
            if e.get("meta", {}).get("scope", "chunk") == scope
            and not any(p in params and params[p] is None for p in _parameters_of(e.get("kwargs", {})))]
    return {**suite, "expectations": exps}


@lru_cache(maxsize=1)
def _context():
    import great_expectations as gx

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    # NOTE: GX sets this child logger to INFO on import ("Created temporary directory … docs site").
    logging.getLogger("great_expectations.data_context.types.base").setLevel(logging.WARNING)
    ctx = gx.get_context(mode="ephemeral")
    try:
        from great_expectations.data_context.types.base import ProgressBarsConfig

        ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    except Exception:  # pragma: no cover - GX internals moved
        pass
    return ctx


def _as_epoch(value: Any) -> Any:
    if isinstance(value, (pd.Timestamp, datetime, date)):
        return int(pd.Timestamp(value).as_unit("ns").value)
    return value


def _frame_for_gx(frame: pd.DataFrame, suite: dict, parameters: dict[str, Any]) -> tuple[pd.DataFrame, dict]:
    """Return the columns the suite reads, positionally indexed, with datetimes as epoch nanoseconds.

    NOTE: GX 1.24 returns wrong results for frames whose index is not a RangeIndex (seen: every
    value reported null), filters every column of the frame for each map metric (so narrow
    frames are much faster), and compares datetimes element by element in Python (0.8 s per
    250k rows); integers compare vectorised. Results are positions, so none of this shows.
    """
    used: list[str] = []
    for e in suite["expectations"]:
        kw = e.get("kwargs", {})
        for key in ("column", "column_A", "column_B"):
            if kw.get(key) in frame.columns and kw[key] not in used:
                used.append(kw[key])
    out = frame[used].reset_index(drop=True)
    converted = False
    for col in used:
        if pd.api.types.is_datetime64_any_dtype(out[col]):
            if not converted:
                out = out.copy()
                converted = True
            out[col] = out[col].dt.tz_localize(None).astype("datetime64[ns]").astype("int64").where(out[col].notna())
    params = {k: _as_epoch(v) for k, v in parameters.items()} if converted else parameters
    return out, params


@lru_cache(maxsize=1)
def _batch_definition():
    ctx = _context()
    ds = ctx.data_sources.add_pandas(f"pulse-{uuid.uuid4().hex[:8]}")
    return ds.add_dataframe_asset("frame").add_batch_definition_whole_dataframe("whole")


@lru_cache(maxsize=64)
def _gx_suite(suite_json: str):
    from great_expectations.core.expectation_suite import ExpectationSuite

    suite = json.loads(suite_json)
    gx_suite = _context().suites.add(ExpectationSuite(**{**suite, "name": f"{suite['name']}-{uuid.uuid4().hex[:8]}",
                                                         "id": None}))
    if len(gx_suite.expectations) != len(suite["expectations"]):
        # NOTE: GX drops an expectation it cannot parse with only a log line; refuse instead.
        raise ValueError(f"suite {suite['name']}: GX accepted {len(gx_suite.expectations)} of "
                         f"{len(suite['expectations'])} expectations; check the JSON")
    return gx_suite


def run_suite(frame: pd.DataFrame, suite: dict, parameters: dict[str, Any],
              table_columns: list[str] | None = None) -> list[dict[str, Any]]:
    """Return GX results for ``frame`` as plain dicts (type, column, success, meta, unexpected positions).

    ``table_columns``: the batch's full column list when ``frame`` holds only the columns the
    expectations read (column-set expectations are judged on it).
    """
    if not suite["expectations"]:
        return []
    columns_only = [e for e in suite["expectations"] if e["type"].startswith("expect_table_columns")]
    if columns_only and (len(columns_only) < len(suite["expectations"]) or table_columns is not None):
        # Column-set checks need the header only: run them on an empty frame, the rest on a narrow one.
        rest = [e for e in suite["expectations"] if e not in columns_only]
        header = pd.DataFrame(columns=table_columns) if table_columns is not None else frame.iloc[:0]
        return (run_suite(header, {**suite, "expectations": columns_only}, parameters)
                + (run_suite(frame, {**suite, "expectations": rest}, parameters) if rest else []))
    positional, parameters = (_frame_for_gx(frame, suite, parameters) if not columns_only
                              else (frame.iloc[:0].reset_index(drop=True), parameters))
    with _lock:
        batch = _batch_definition().get_batch(batch_parameters={"dataframe": positional})
        # Batch.validate does not persist results in a store: serializing a 250k-row result
        # through the store took 4 s per expectation in ValidationDefinition.run.
        res = batch.validate(_gx_suite(json.dumps(suite, sort_keys=True)), expectation_parameters=parameters,
                             result_format={"result_format": "COMPLETE", "include_unexpected_rows": False})
    out = []
    for r in res.results:
        cfg = r.expectation_config
        exc = r.exception_info or {}
        out.append({
            "expectation": cfg.type,
            # Pair expectations name column_A/column_B: quarantine_<entity>.column_name is part of its key.
            "column": cfg.kwargs.get("column") or cfg.kwargs.get("column_A"),
            "meta": dict(cfg.meta or {}),
            "success": bool(r.success),
            "element_count": r.result.get("element_count", len(frame)),
            "unexpected_count": r.result.get("unexpected_count", 0) or 0,
            "unexpected_index_list": list(r.result.get("unexpected_index_list") or []),
            "observed_value": r.result.get("observed_value"),
            "exception": exc.get("exception_message") if exc.get("raised_exception") else None,
        })
    return out


def columns_read(suite_path: Path) -> list[str]:
    """Return every column the suite's expectations read or report (column kwargs and value columns)."""
    out: list[str] = []
    for e in load_suite_json(str(suite_path))["expectations"]:
        kw, meta = e.get("kwargs", {}), e.get("meta", {})
        for name in (kw.get("column"), kw.get("column_A"), kw.get("column_B"), meta.get("value_column")):
            if name and name not in out:
                out.append(name)
    return out


def _summarize(results: list[dict], n_rows: int) -> list[dict]:
    return [{
        "expectation": r["expectation"], "column": r["column"], "on_failure": r["meta"].get("on_failure"),
        "success": r["success"], "rows_checked": int(r["element_count"] or n_rows),
        "failures": int(r["unexpected_count"]),
    } for r in results]


def _critical_messages(results: list[dict], where: str) -> list[str]:
    msgs = []
    for r in results:
        if r["meta"].get("on_failure") != "fail_batch" or r["success"]:
            continue
        detail = r["exception"] or f"{r['unexpected_count']} rows failed"
        if r["expectation"] == "expect_table_columns_to_match_set":
            detail = f"observed columns {r['observed_value']}"
        msgs.append(f"{where}: critical expectation {r['expectation']}"
                    f"{'(' + r['column'] + ')' if r['column'] else ''} failed ({detail}): "
                    f"{r['meta'].get('reason', '')}")
    return msgs


def validate_frame(frame: pd.DataFrame, suite_path: Path, parameters: dict[str, Any], *, id_column: str,
                   where: str = "batch") -> ValidationOutcome:
    """Return which rows of ``frame`` pass the suite's chunk-scope expectations and why others fail."""
    suite = _split_suite(load_suite_json(str(suite_path)), "chunk", parameters)
    results = run_suite(frame, suite, {k: v for k, v in parameters.items() if v is not None})
    return _outcome(frame, results, id_column, where)


def _outcome(frame: pd.DataFrame, results: list[dict], id_column: str, where: str) -> ValidationOutcome:
    """Return the outcome of GX ``results`` on ``frame``: quarantine rows, valid index, summaries, critical lines."""
    rows = []
    for r in results:
        if r["meta"].get("on_failure") != "quarantine" or r["success"]:
            continue
        if r["exception"]:
            raise RuntimeError(f"{where}: expectation {r['expectation']}({r['column']}) errored: {r['exception']}")
        pos = r["unexpected_index_list"]
        labels = frame.index[pos]
        value_col = r["meta"].get("value_column", r["column"])
        values = frame[value_col].iloc[pos].astype("str") if value_col in frame else pd.Series([None] * len(pos))
        rows.append(pd.DataFrame({
            "row_index": labels,
            "record_id": frame[id_column].iloc[pos].astype("str").to_numpy(),
            "expectation": r["expectation"],
            "column_name": r["column"],
            "value": values.to_numpy(),
            "reason": r["meta"].get("reason", r["expectation"]),
        }))
    quarantine = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=QUARANTINE_COLUMNS)
    bad = pd.Index(quarantine["row_index"].unique()) if len(quarantine) else pd.Index([])
    return ValidationOutcome(
        valid_index=frame.index.difference(bad, sort=False),
        quarantine=quarantine,
        results=_summarize(results, len(frame)),
        critical_failures=_critical_messages(results, where),
    )


def validate_batch(frame: pd.DataFrame, suite_path: Path, parameters: dict[str, Any], *, id_column: str,
                   where: str = "batch", table_columns: list[str] | None = None, unique_rows: bool = True,
                   duplicate_advice: str | None = None) -> ValidationOutcome:
    """Return which rows of a whole batch pass the suite and why others fail: every expectation (row
    checks and batch-scope checks such as unique ids) in ONE Great Expectations run.

    ``frame``'s index labels are the batch's row positions; critical messages name them 1-based.
    With ``unique_rows`` False (one row per offense, collapsed into incidents later) the key's
    uniqueness expectation is not applied to rows; ``duplicate_advice`` replaces the generic
    "de-duplicate it" hint when it fails.
    """
    suite = load_suite_json(str(suite_path))
    row_level = _split_suite(suite, "chunk", parameters)
    batch_level = [e for e in _split_suite(suite, "batch")["expectations"]
                   if unique_rows or e["type"] != "expect_column_values_to_be_unique"]
    whole = {**suite, "expectations": row_level["expectations"] + batch_level}
    results = run_suite(frame, whole, {k: v for k, v in parameters.items() if v is not None}, table_columns)
    outcome = _outcome(frame, results, id_column, where)
    for r in results:
        if not r["success"] and r["expectation"] == "expect_column_values_to_be_unique" and r["column"] in frame:
            pos = r["unexpected_index_list"][:5]
            sample = ", ".join(f"row {frame.index[p] + 1} ({frame[r['column']].iloc[p]})" for p in pos)
            todo = duplicate_advice or "Fix the source export or de-duplicate it, then rerun"
            outcome.critical_failures = [
                m + f" e.g. {sample}. {todo}"
                if f"({r['column']})" in m and "unique" in m else m for m in outcome.critical_failures]
    return outcome


def validate_batch_keys(keys: pd.DataFrame, suite_path: Path, *, where: str) -> ValidationOutcome:
    """Run the suite's batch-scope expectations (e.g. unique ids) over a whole batch's key columns."""
    suite = _split_suite(load_suite_json(str(suite_path)), "batch")
    results = run_suite(keys, suite, {})
    msgs = _critical_messages(results, where)
    for r in results:
        if not r["success"] and r["expectation"] == "expect_column_values_to_be_unique":
            pos = r["unexpected_index_list"][:5]
            sample = ", ".join(f"row {p + 1} ({keys[r['column']].iloc[p]})" for p in pos)
            msgs = [m + f" e.g. {sample}. Fix the source export or de-duplicate it, then rerun"
                    if r["column"] and r["column"] in m and "unique" in m else m for m in msgs]
    return ValidationOutcome(valid_index=keys.index, quarantine=pd.DataFrame(columns=QUARANTINE_COLUMNS),
                             results=_summarize(results, len(keys)), critical_failures=msgs)

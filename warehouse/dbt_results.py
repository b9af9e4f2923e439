"""What one dbt invocation did, read from its artifacts (``run_results.json`` + ``manifest.json``).

``node_results`` gives one row per executed node (model, test, source freshness); ``failure_line``
turns the failures into the one line a failed run reports: the test, the model and column it
checks, how many rows fail and a few of them (``failing_rows`` re-runs the test's compiled SQL).
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from schemas.errors import PulseError

FAILED = ("error", "fail", "runtime error")
SAMPLE_ROWS = 3
MAX_VALUE_CHARS = 40
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


class ModelBuildError(PulseError):
    """A dbt model or test failed; ``str()`` is one line naming the test, the model and the failing rows."""

    def __reduce__(self):  # picklable for Prefect task and flow states
        return (type(self), (self.where, self.problem, self.action))


def read_artifact(path: Path) -> dict:
    """Return a dbt JSON artifact, or {} when dbt stopped before writing it (e.g. a parse error)."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


_MODEL_ARG = re.compile(r"""(source|ref)\(\s*['"](\w+)['"]\s*(?:,\s*['"](\w+)['"]\s*)?\)""")


def _tested(node: dict, manifest: dict) -> tuple[str, str | None, str | None]:
    """Return (what the test checks as shown: model or source.table, its relation name, column or None).

    A generic test names what it checks in its ``model`` argument (``ref('x')`` or
    ``source('s', 't')``); ``depends_on`` would also list a relationships test's target.
    """
    column = node.get("column_name")
    found = _MODEL_ARG.search(str((node.get("test_metadata") or {}).get("kwargs", {}).get("model", "")))
    if found and found.group(1) == "source" and found.group(3):
        return f"{found.group(2)}.{found.group(3)}", found.group(3), column
    if found and found.group(1) == "ref":
        return found.group(2), found.group(2), column
    attached = node.get("attached_node")
    if not attached:
        return "(project)", None, column
    name = attached.rsplit(".", 1)[-1]
    return name, name, column


def node_results(run_results: dict, manifest: dict) -> list[dict]:
    """Return one row per executed node, in dbt's order.

    Keys: ``name``, ``type`` (model, test, source, ...), ``on`` (what a test checks: model or
    source.table, with ``.column``), ``relation`` (the table a test checks), ``status`` (success, pass, fail, error, skipped, warn, ...), ``failures``
    (failing rows of a test), ``seconds``, ``message`` (first line) and ``compiled_code``.
    """
    nodes = {**manifest.get("nodes", {}), **manifest.get("sources", {})}
    rows = []
    for r in run_results.get("results", []):
        uid = r.get("unique_id", "")
        node = nodes.get(uid, {})
        kind = node.get("resource_type") or uid.split(".", 1)[0]
        on = relation = None
        if kind == "test":
            shown, relation, column = _tested(node, manifest)
            on = f"{shown}.{column}" if column else shown
        message = str(r.get("message") or "").strip().splitlines()
        rows.append({"name": node.get("name") or uid.rsplit(".", 1)[-1], "type": kind, "on": on, "relation": relation,
                     "status": str(r.get("status")), "failures": r.get("failures"),
                     "seconds": round(float(r.get("execution_time") or 0.0), 3),
                     "message": message[0][:300] if message else "", "compiled_code": r.get("compiled_code")})
    return rows


def freshness_results(sources: dict) -> list[dict]:
    """Return one row per source table checked by ``dbt source freshness`` (``sources.json``).

    Keys: ``name`` (source.table), ``status`` (pass | warn | error | runtime error), ``age_hours``
    since the newest loaded_at, ``max_loaded_at`` and ``message``.
    """
    rows = []
    for r in sources.get("results", []):
        uid = r.get("unique_id", "")
        parts = uid.split(".")
        age = r.get("max_loaded_at_time_ago_in_s")
        rows.append({"name": ".".join(parts[-2:]) if len(parts) >= 2 else uid, "status": str(r.get("status")),
                     "age_hours": round(float(age) / 3600, 1) if age is not None else None,
                     "max_loaded_at": r.get("max_loaded_at"), "message": str(r.get("error") or "")[:300]})
    return rows


def failed_relations(rows: list[dict]) -> list[str]:
    """Return the tables a failed model or test concerns (kept closed to analysts until fixed)."""
    names = {r["name"] for r in failed(rows) if r["type"] == "model"}
    names |= {r["relation"] for r in failed(rows) if r["type"] == "test" and r["relation"]}
    return sorted(names)


def failed(rows: list[dict]) -> list[dict]:
    """Return the rows of failed nodes (a failing test, a model or test that errored)."""
    return [r for r in rows if r["status"] in FAILED]


def _value(v: object) -> str:
    shown = "NULL" if v is None else str(v)
    return shown if len(shown) <= MAX_VALUE_CHARS else shown[: MAX_VALUE_CHARS - 1] + "…"


def failing_rows(engine: Engine, compiled_sql: str | None, limit: int = SAMPLE_ROWS) -> list[tuple]:
    """Return up to ``limit`` rows a failed test returns (its compiled SELECT re-run); [] when unavailable.

    The SQL is dbt's own compiled test, read from run_results.json, never user input.
    """
    if not compiled_sql:
        return []
    try:
        with engine.connect() as conn:
            result = conn.execute(text(f"SELECT * FROM ({compiled_sql.strip().rstrip(';')}) AS failing LIMIT {int(limit)}"))
            return [tuple(row) for row in result]
    except SQLAlchemyError:
        return []


def _describe(row: dict, sample: list[tuple]) -> str:
    if row["type"] == "test" and row["status"] == "fail":
        n = row.get("failures") or 0
        shown = ", ".join("(" + ", ".join(_value(v) for v in r) + ")" for r in sample)
        return (f"test {row['name']} on {row['on']}: {n:,} failing row{'s' if n != 1 else ''}"
                + (f", e.g. {shown}" if shown else ""))
    return f"{row['type']} {row['name']}{' on ' + row['on'] if row['on'] else ''} {row['status']}: {row['message']}"


def failure_line(rows: list[dict], samples: dict[str, list[tuple]] | None = None) -> str | None:
    """Return one line naming the first failure (test, model.column, failing rows) and how many more; None if none."""
    bad = failed(rows)
    if not bad:
        return None
    first = bad[0]
    line = _describe(first, (samples or {}).get(first["name"], []))
    if len(bad) > 1:
        others = ", ".join(r["name"] for r in bad[1:4]) + (", …" if len(bad) > 4 else "")
        line += f" (+{len(bad) - 1} more: {others})"
    return line.replace("\n", " ")


def summary_table(rows: list[dict]) -> list[dict]:
    """Return the rows for the Prefect table artifact: node, type, checks, status, rows (models), failures (tests), seconds."""
    return [{"node": r["name"], "type": r["type"], "checks": r["on"] or "", "status": r["status"],
             "rows": r.get("rows") if r["type"] == "model" else None,
             "failures": r["failures"] if r["type"] == "test" else None, "seconds": r["seconds"]} for r in rows]


def model_row_counts(engine: Engine, names: list[str]) -> dict[str, int]:
    """Return the row count of each built model (missing ones are left out)."""
    counts = {}
    with engine.connect() as conn:
        for name in (n for n in names if _NAME.match(n)):
            try:
                counts[name] = int(conn.execute(text(f'SELECT count(*) FROM "{name}"')).scalar_one())
            except SQLAlchemyError:
                conn.rollback()
    return counts

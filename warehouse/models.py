"""Build the SQL models in ``warehouse/models/*.sql`` (dbt-style layers) on DuckDB or PostgreSQL.

A model file is a SELECT with a header::

    -- grain: one row per community area and month
    -- materialized: table            (view | table)

and dbt-like placeholders, the only templating there is:

- ``{{ ref('stg_x') }}``: another model (this is how dependencies are declared);
- ``{{ source('fct_incidents') }}``: a table the loader or the seeds maintain (``warehouse.tables``);
- ``{{ var('small_cell_threshold') }}``: a validated integer (or list of integers) from ``model_variables``;
- ``{{ suppress('n_admissions') }}``: ``n_admissions`` with counts in 1..threshold set to NULL,
  plus the boolean ``n_admissions_suppressed``.

Layers, by name prefix, build in this order: ``stg_`` (views over sources: rename/cast, no joins),
``dim_``, ``int_`` (internal, unsuppressed), ``mart_`` (analyst-facing, suppressed). Only ``stg_`` and
``dim_`` models may read sources, and a view may only read sources: PostgreSQL binds a view to the
objects it reads, so replacing a model that a view reads would drop that view (CASCADE) or fail.
"""
from __future__ import annotations

import graphlib
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError


from schemas.teds_codes import CRIMINAL_JUSTICE_REFERRAL, OPIOID_SUBSTANCE_CODES
from schemas.errors import ConfigError, PulseError
from warehouse.tables import metadata

MODELS_DIR = Path(__file__).resolve().parent / "models"
LAYERS = ("stg", "dim", "int", "mart")
MATERIALIZATIONS = ("view", "table")
SOURCE_LAYERS = ("stg", "dim")  # layers allowed to read sources directly
NEW_SUFFIX = "__new"

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,54}$")  # leaves room for NEW_SUFFIX within PostgreSQL's 63
_HEADER = re.compile(r"^--\s*([a-z_]+)\s*:\s*(.*?)\s*$")
_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\(\s*'([^']*)'\s*\)\s*\}\}")
_MACROS = ("ref", "source", "var", "suppress")


class ModelBuildError(PulseError):
    """One or more models failed; ``results`` holds every model's outcome."""

    def __init__(self, where: str, problem: str, action: str, results: list[dict]) -> None:
        super().__init__(where, problem, action)
        self.results = results

    def __reduce__(self):  # keep it picklable for Prefect task states
        return (type(self), (self.where, self.problem, self.action, self.results))


@dataclass(frozen=True)
class Model:
    name: str
    path: Path
    layer: str
    materialized: str
    grain: str
    template: str
    refs: tuple[str, ...]
    sources: tuple[str, ...]


def _ident(name: str, where: object) -> str:
    if not _NAME.match(name):
        raise ConfigError(where, f"'{name}' is not a valid model or table name",
                          "Use lower-case letters, digits and underscores (at most 55 characters)")
    return f'"{name}"'


def parse_model(path: Path) -> Model:
    """Return the model defined by one SQL file (header, placeholders), checking its syntax."""
    path = Path(path)
    name = path.stem
    _ident(name, path)
    layer = name.split("_", 1)[0]
    if layer not in LAYERS or "_" not in name:
        raise ConfigError(path, f"model name '{name}' has no layer prefix",
                          f"Start it with one of {[f'{x}_' for x in LAYERS]}")
    template = path.read_text(encoding="utf-8")
    header = {}
    for line in template.splitlines():
        if not line.startswith("--"):
            if line.strip():
                break
            continue
        m = _HEADER.match(line)
        if m:
            header.setdefault(m.group(1), m.group(2))
    for key in ("grain", "materialized"):
        if not header.get(key):
            raise ConfigError(path, f"header line '-- {key}: …' is missing", "Add it at the top of the file")
    if header["materialized"] not in MATERIALIZATIONS:
        raise ConfigError(path, f"materialized '{header['materialized']}' is not one of {MATERIALIZATIONS}",
                          "Use view or table")
    refs, sources = [], []
    for macro, arg in _PLACEHOLDER.findall(template):
        if macro not in _MACROS:
            raise ConfigError(path, f"unknown macro '{macro}'", f"Use one of {_MACROS}")
        if macro in ("ref", "source"):
            _ident(arg, path)
            (refs if macro == "ref" else sources).append(arg)
    leftover = _PLACEHOLDER.sub("", template)
    if "{{" in leftover or "}}" in leftover:
        snippet = leftover[leftover.find("{{"):][:40] if "{{" in leftover else "}}"
        raise ConfigError(path, f"placeholder '{snippet}' is not of the form {{{{ macro('arg') }}}}",
                          "Write e.g. {{ ref('stg_police__incidents') }}")
    return Model(name=name, path=path, layer=layer, materialized=header["materialized"], grain=header["grain"],
                 template=template, refs=tuple(dict.fromkeys(refs)), sources=tuple(dict.fromkeys(sources)))


def discover_models(models_dir: Path | None = None) -> dict[str, Model]:
    """Return every model of ``models_dir`` by name, after checking refs, sources and layering."""
    models_dir = Path(models_dir or MODELS_DIR)
    models = {m.name: m for m in (parse_model(p) for p in sorted(models_dir.glob("*.sql")))}
    if not models:
        raise ConfigError(models_dir, "no *.sql model files found", "Point models_dir at warehouse/models")
    for m in models.values():
        if m.name in metadata.tables:
            raise ConfigError(m.path, f"model '{m.name}' has the name of a loaded table", "Rename the model")
        for ref in m.refs:
            if ref not in models:
                hint = "use {{ source('%s') }}" % ref if ref in metadata.tables else "check the spelling"
                raise ConfigError(m.path, f"ref('{ref}') names no model in {models_dir}", hint.capitalize())
            if LAYERS.index(models[ref].layer) > LAYERS.index(m.layer):
                raise ConfigError(m.path, f"{m.layer}_ model reads the later-layer model '{ref}'",
                                  f"Layers build in the order {LAYERS}; move the logic")
        for src in m.sources:
            if src not in metadata.tables:
                hint = "use {{ ref('%s') }}" % src if src in models else "check the spelling or warehouse/tables.py"
                raise ConfigError(m.path, f"source('{src}') names no loaded table", hint.capitalize())
        if m.sources and m.layer not in SOURCE_LAYERS:
            raise ConfigError(m.path, f"{m.layer}_ model reads source table(s) {list(m.sources)} directly",
                              "Read them through a stg_ model")
        if m.materialized == "view" and m.refs:
            raise ConfigError(m.path, f"view reads model(s) {list(m.refs)}",
                              "Materialize it as a table (rebuilding a model under a PostgreSQL view drops the view)")
    return models


def order_models(models: dict[str, Model]) -> list[Model]:
    """Return the models in build order: layer by layer, each after every model it refs."""
    sorter = graphlib.TopologicalSorter()
    for name in sorted(models, key=lambda n: (LAYERS.index(models[n].layer), n)):
        sorter.add(name, *sorted(models[name].refs))
    try:
        order = list(sorter.static_order())
    except graphlib.CycleError as exc:
        cycle = exc.args[1]
        raise ConfigError(models[cycle[0]].path, "models form a dependency cycle: " + " -> ".join(cycle),
                          "Remove one of these refs") from None
    # A stable, readable order: by layer first (refs never point to a later layer).
    rank = {n: i for i, n in enumerate(order)}
    return sorted((models[n] for n in order), key=lambda m: (LAYERS.index(m.layer), rank[m.name]))


def _int(value: object, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(name, f"{value!r} is not an integer >= {minimum}", f"Set {name} to a whole number")
    return value


def model_variables(threshold: int = 10) -> dict[str, str]:
    """Return the rendered ``{{ var(...) }}`` values; every one is a validated integer or integer list."""
    threshold = _int(threshold, "small_cell_threshold", 1)
    return {
        "small_cell_threshold": str(threshold),
        "opioid_substance_codes": ", ".join(str(_int(c, "opioid_substance_codes", -9)) for c in OPIOID_SUBSTANCE_CODES),
        "criminal_justice_referral": str(_int(CRIMINAL_JUSTICE_REFERRAL, "criminal_justice_referral", -9)),
    }


def render(model: Model, variables: dict[str, str]) -> str:
    """Return the model's SQL with placeholders replaced (identifiers quoted, variables inlined)."""

    def sub(m: re.Match) -> str:
        macro, arg = m.group(1), m.group(2)
        if macro in ("ref", "source"):
            return _ident(arg, model.path)
        if macro == "var":
            if arg not in variables:
                raise ConfigError(model.path, f"var('{arg}') is not defined", f"Use one of {sorted(variables)}")
            return variables[arg]
        col, limit = _ident(arg, model.path), variables["small_cell_threshold"]
        return (f"CASE WHEN {col} BETWEEN 1 AND {limit} THEN NULL ELSE {col} END AS {col}, "
                f"COALESCE({col} BETWEEN 1 AND {limit}, FALSE) AS \"{arg}_suppressed\"")

    return _PLACEHOLDER.sub(sub, model.template).strip().rstrip(";")


def _kind(conn, name: str) -> str | None:
    row = conn.execute(text(
        "SELECT table_type FROM information_schema.tables "
        "WHERE table_schema = current_schema() AND table_catalog = current_database() AND table_name = :n"),
        {"n": name}).first()
    if row is None:
        return None
    return "VIEW" if row[0] == "VIEW" else "TABLE"


def _run(conn, sql: str) -> tuple | None:
    """Execute SQL verbatim on the DBAPI cursor and return the first row (if any).

    NOTE: ``exec_driver_sql`` on psycopg turns ``'%b'`` inside a literal into ``'$1'`` and
    ``text()`` treats ``' :x'`` as a bind parameter; a bare cursor without parameters does neither.
    """
    cur = conn.connection.cursor()
    try:
        cur.execute(sql)
        return cur.fetchone() if cur.description else None
    finally:
        cur.close()


def _drop(conn, name: str) -> None:
    kind = _kind(conn, name)
    if kind:
        _run(conn, f'DROP {kind} IF EXISTS "{name}" CASCADE')


def _build_one(engine: Engine, model: Model, sql: str) -> int:
    """(Re)create one model in one transaction: build ``<name>__new``, count it, then swap it in."""
    kind = model.materialized.upper()
    tmp = model.name + NEW_SUFFIX
    with engine.begin() as conn:
        _drop(conn, tmp)
        _run(conn, f'CREATE {kind} "{tmp}" AS\n{sql}')
        rows = int(_run(conn, f'SELECT count(*) FROM "{tmp}"')[0])
        _drop(conn, model.name)
        _run(conn, f'ALTER {kind} "{tmp}" RENAME TO "{model.name}"')
    return rows


def _first_line(exc: Exception) -> str:
    orig = getattr(exc, "orig", None) or exc
    return (str(orig).strip().splitlines() or [type(orig).__name__])[0][:300]


def select_models(models: dict[str, Model], select: Iterable[str] | None) -> list[Model]:
    """Return the selected models (all when ``select`` is None) in build order."""
    ordered = order_models(models)
    if select is None:
        return ordered
    wanted = set(select)
    unknown = sorted(wanted - set(models))
    if unknown:
        raise ConfigError("models", f"unknown model(s) {unknown}", f"Pick from {sorted(models)}")
    return [m for m in ordered if m.name in wanted]


def build_models(engine: Engine, threshold: int = 10, select: Sequence[str] | None = None,
                 models_dir: Path | None = None) -> list[dict]:
    """Build the models in dependency order; return one dict per model.

    Each dict has ``name``, ``layer``, ``materialization``, ``status`` (built | failed | skipped),
    ``rows``, ``seconds`` and ``error``. A failing model keeps its previous version; models that
    depend on it are skipped; the others still build. Raises ``ModelBuildError`` (with the
    results) after the run when any model failed.
    """
    variables = model_variables(threshold)
    models = discover_models(models_dir)
    todo = select_models(models, select)
    rendered = {m.name: render(m, variables) for m in todo}  # render errors surface before any DDL
    broken: set[str] = set()
    results = []
    for model in todo:
        started = time.perf_counter()
        result = {"name": model.name, "layer": model.layer, "materialization": model.materialized,
                  "status": "built", "rows": None, "seconds": 0.0, "error": None}
        upstream_broken = [r for r in model.refs if r in broken]
        if upstream_broken:
            result.update(status="skipped", error=f"upstream model {upstream_broken[0]} failed")
            broken.add(model.name)
        else:
            try:
                result["rows"] = _build_one(engine, model, rendered[model.name])
            except (SQLAlchemyError, engine.dialect.loaded_dbapi.Error) as exc:
                result.update(status="failed", error=_first_line(exc))
                broken.add(model.name)
        result["seconds"] = round(time.perf_counter() - started, 3)
        results.append(result)
    failed = [r for r in results if r["status"] == "failed"]
    if failed:
        first = failed[0]
        raise ModelBuildError(models[first["name"]].path,
                              f"{len(failed)} model(s) failed; {first['name']}: {first['error']}",
                              "Fix the SQL and rebuild; failed models keep their previous version", results)
    return results


def restricted_models(models_dir: Path | None = None) -> list[str]:
    """Return the models analysts must not read: staging (incl. person-level rows) and ``int_`` (unsuppressed)."""
    return sorted(n for n, m in discover_models(models_dir).items() if m.layer in ("stg", "int"))

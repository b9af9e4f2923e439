"""The reference of every city-config key (type, default, description), built from the typed models.

``config_keys(source_models)`` walks ``CityConfig`` (``[city]``, ``[neighborhoods]``, ``[trends]``)
and the config model of every adapter (``[sources.<slug>]`` tables, one section per adapter); it
reads only the pydantic fields, so the reference cannot drift from what the parser accepts.
``pulse config keys`` prints it and ``docs/configuration.md`` is generated from it
(``reference_markdown``); a test checks the committed file equals the generated one.
"""
from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from schemas.city_config import CityConfig, SourceConfig

REQUIRED = "required"
# The error lines of the parser (schemas/city_config.py) and of ``pulse config check`` (tasks/sources/config_check.py).
ERRORS = (
    ("`<file> [sources.x]: unknown key 'k'`", "the table has no key `k` (a typo, or a key of another table)",
     "remove it or fix its spelling (tables and keys below)"),
    ("`<file> [sources.x]: missing key 'k'`", "a required key is absent", "add it"),
    ("`<file> [sources.x]: key 'k': <why> (got <value>)`", "the value has the wrong type or range",
     "fix the value (types below)"),
    ("`[sources.x] key 'adapter' is 'a', not a known adapter`", "no adapter of that name",
     "use one of the adapters of the sections below"),
    ("`<file>: has no [sources.x] table`", "a command asked for a source the file does not declare",
     "add the table or pass a configured source"),
    ("`files entry 'p': matches no file under <dir>`", "a file or glob names nothing in the data directory",
     "fix the path or PULSE_DATA_DIR"),
    ("`id_field = 'f': no such field in <boundary file>`", "the boundary file has no field `f`",
     "name one of the fields the line lists"),
    ("`[city] bbox = [...]: does not contain the boundary file's extent`", "the bounding box misses the areas "
     "(often latitude and longitude swapped)", "set lon_min, lat_min, lon_max, lat_max around the city"),
    ("`columns.c = 'C': column not in the header of <file>`", "a mapped column is absent from a file's header",
     "fix the name, or add a `[[...layouts]]` entry whose `rename` maps that file's column"),
    ("`layouts: the header of <file> matches no layout's when_columns`", "a file has a header layout the "
     "config does not know", "add a `[[...layouts]]` entry for it"),
)


@dataclass(frozen=True)
class KeyDoc:
    """One config key: its dotted path inside its table, type, default and description."""

    section: str  # the TOML table it belongs to, e.g. "[neighborhoods]" or "[sources.<slug>] adapter = \"mapped\""
    key: str  # dotted path below the section, e.g. "weights.k"
    type: str
    default: str
    description: str


def _models_in(annotation: object) -> list[type[BaseModel]]:
    args = typing.get_args(annotation) or (annotation,)
    found = []
    for a in args:
        if isinstance(a, type) and issubclass(a, BaseModel):
            found.append(a)
        elif typing.get_origin(a) is list:
            found.extend(_models_in(typing.get_args(a)[0]))
    return found


def type_text(annotation: object) -> str:
    """Return a short reader's name of a field type: ``text``, ``list of text``, ``one of 'a', 'b'``, ``table``."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is type(None):
        return "none"
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(type_text(a) for a in args if a is not type(None))
    if origin in (list, tuple):
        if origin is tuple and len(args) > 1 and Ellipsis not in args:
            return f"{len(args)} numbers" if all(a is float for a in args) else f"{len(args)} values"
        inner = args[0] if args else typing.Any
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            return "array of tables"
        return f"list of {type_text(inner)}"
    if origin is dict:
        return f"table of {type_text(args[0])} = {type_text(args[1])}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "table"
    names = {str: "text", int: "integer", float: "number", bool: "true/false"}
    return names.get(annotation, getattr(annotation, "__name__", str(annotation)))  # type: ignore[arg-type]


def default_text(field) -> str:
    """Return a field's default as TOML-like text, or ``required``."""
    if field.default_factory is not None:
        value = field.default_factory()
    elif field.default is PydanticUndefined:
        return REQUIRED
    else:
        value = field.default
    if isinstance(value, BaseModel):
        return "(table defaults)"
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(f'"{v}"' if isinstance(v, str) else str(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{}" if not value else str(value)
    return str(value)


def model_keys(model: type[BaseModel], section: str, prefix: str = "") -> list[KeyDoc]:
    """Return one KeyDoc per field of ``model`` and, below it, of every table it holds."""
    rows: list[KeyDoc] = []
    for name, field in model.model_fields.items():
        if field.exclude or name == "sources" and model is CityConfig:
            continue
        key = prefix + name
        rows.append(KeyDoc(section, key, type_text(field.annotation), default_text(field),
                           " ".join((field.description or "").split())))
        for sub in _models_in(field.annotation):
            if sub is model:
                continue
            many = typing.get_origin(field.annotation) is list or any(
                typing.get_origin(a) is list for a in typing.get_args(field.annotation))
            rows.extend(model_keys(sub, section, f"{key}[]." if many else f"{key}."))
    return rows


def _dedup(rows: list[KeyDoc]) -> list[KeyDoc]:
    seen: set[str] = set()
    out = []
    for r in rows:
        if r.key not in seen:
            seen.add(r.key)
            out.append(r)
    return out


def source_section(adapter: str) -> str:
    return f'[sources.<slug>] adapter = "{adapter}"'


def config_keys(source_models: Mapping[str, type[SourceConfig]]) -> list[KeyDoc]:
    """Return the reference of every key: the city tables, then each adapter's source table."""
    rows: list[KeyDoc] = []
    for name, field in CityConfig.model_fields.items():
        sub = _models_in(field.annotation)
        if name == "sources" or field.exclude or not sub:
            continue
        rows.extend(model_keys(sub[0], f"[{name}]"))
    for adapter, model in sorted(source_models.items()):
        rows.extend(_dedup(model_keys(model, source_section(adapter))))
    return rows


def model_doc(model: type[BaseModel]) -> str:
    doc = (model.__doc__ or "").strip().split("\n\n")[0]
    return " ".join(doc.split())


def reference_text(rows: list[KeyDoc]) -> str:
    """Return the reference as plain text: one block per table, one line per key."""
    lines: list[str] = []
    section = None
    for r in rows:
        if r.section != section:
            section = r.section
            lines += ["", section]
        lines.append(f"  {r.key}  ({r.type}; default {r.default})  {r.description}".rstrip())
    return "\n".join(lines).strip() + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def reference_markdown(rows: list[KeyDoc], source_models: Mapping[str, type[SourceConfig]]) -> str:
    """Return docs/configuration.md: an introduction and one table per config table."""
    out = [
        "# City configuration keys",
        "",
        "<!-- Generated by `pulse config keys --markdown > docs/configuration.md` from the typed config",
        "     models (schemas/city_config.py, tasks/sources/catalog.py, tasks/sources/mapped_config.py).",
        "     Do not edit by hand: tests/schemas/test_config_reference.py checks it is up to date. -->",
        "",
        "A city is one TOML file (`PULSE_CITY_CONFIG`, default `config/chicago.toml`). Paths are relative",
        "to the data directory (`PULSE_DATA_DIR`) unless a key says otherwise. Every table refuses",
        "unknown keys: a typo is one error line naming the file, the table and the key.",
        "`pulse config check` checks a file against the data (files, boundary fields, mapped columns);",
        "`pulse config keys` prints this reference. A key `a.b` is the key `b` of the table `[<table>.a]`;",
        "`a[].b` is a key of each `[[<table>.a]]` entry.",
        "",
        "## What the errors mean",
        "",
        "Every configuration error is one line: where (file and table), what is wrong, what to do.",
        "",
        "| the line says | meaning | what to do |",
        "|---|---|---|",
        *[f"| {_cell(a)} | {_cell(b)} | {_cell(c)} |" for a, b, c in ERRORS],
    ]
    section = None
    for r in rows:
        if r.section != section:
            section = r.section
            out += ["", f"## `{section}`", ""]
            adapter = section.split('"')[1] if section.startswith("[sources.") else None
            if adapter and model_doc(source_models[adapter]):
                out += [model_doc(source_models[adapter]), ""]
            out += ["| key | type | default | description |", "|---|---|---|---|"]
        out.append(f"| `{r.key}` | {_cell(r.type)} | {_cell(r.default)} | {_cell(r.description)} |")
    return "\n".join(out) + "\n"

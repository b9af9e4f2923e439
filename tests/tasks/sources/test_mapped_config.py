"""Typed config of a mapped source: every real config parses; each mistake is one line naming the
file, the table and the key; every key is documented (the README guide is generated from it)."""
from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from pydantic import BaseModel

from schemas.errors import ConfigError
from tasks.sources.mapped_config import MappedSourceConfig, config_reference, parse_mapped_source, resolve_files

REPO = Path(__file__).resolve().parents[3]
CONFIGS = [("chicago_generic.toml", "police_generic"), ("st_louis.toml", "police_st_louis"),
           ("boston.toml", "police_boston")]


def table(config: str, slug: str) -> dict:
    with open(REPO / "config" / config, "rb") as fh:
        return tomllib.load(fh)["sources"][slug]


def minimal(**extra) -> dict:
    return {"adapter": "mapped", "incident_key": "ID", "columns": {"occurred_at": "Date"}, **extra}


@pytest.mark.parametrize("config,slug", CONFIGS, ids=[c for c, _ in CONFIGS])
def test_every_shipped_config_parses(config, slug):
    cfg = parse_mapped_source(table(config, slug), file=f"config/{config}", slug=slug)
    assert isinstance(cfg, MappedSourceConfig) and cfg.columns.occurred_at


def test_id_column_is_accepted_as_the_key_and_a_string_is_one_column():
    assert MappedSourceConfig.model_validate({**minimal(), "incident_key": "ID"}).incident_key == ["ID"]
    cfg = {k: v for k, v in minimal().items() if k != "incident_key"}
    assert MappedSourceConfig.model_validate({**cfg, "id_column": "ID"}).incident_key == ["ID"]


def one_line(exc: BaseException) -> str:
    msg = str(exc)
    assert "\n" not in msg and "Traceback" not in msg and "pydantic" not in msg
    return msg


@pytest.mark.parametrize("cfg,needles", [
    (minimal(offenses={"posession": ["1811"]}),
     ["config/x.toml [sources.police_x.offenses]", "unknown key 'posession'"]),
    (minimal(columns={"occurred_at": "Date", 'block"; DROP TABLE x; --': "Block"}),
     ["[sources.police_x.columns]", "unknown key 'block\"; DROP TABLE x; --'"]),
    ({"adapter": "mapped", "incident_key": "ID", "columns": {}},
     ["[sources.police_x.columns]", "missing key 'occurred_at'"]),
    ({"adapter": "mapped", "incident_key": "ID"}, ["[sources.police_x]", "missing key 'columns'"]),
    ({"adapter": "mapped", "columns": {"occurred_at": "Date"}},
     ["[sources.police_x]", "missing key 'incident_key' (or id_column)"]),
    (minimal(columns={"occurred_at": "Date", "is_arrest": {"column": "Res", "true_value": ["Y"]}}),
     ["[sources.police_x.columns.is_arrest]", "unknown key 'true_value'"]),
    (minimal(layouts=[{"name": "A", "when_columns": ["X"]}, {"name": "B", "when_column": ["Y"]}]),
     ["[sources.police_x.layouts[2]]", "unknown key 'when_column'"]),
    (minimal(offenses={"match_order": ["possesion"]}),
     ["[sources.police_x.offenses]", "key 'match_order[1]'", "'possesion'"]),
    (minimal(offenses={"drug": {"match": "any"}}),
     ["[sources.police_x.offenses]", "key 'drug'", "give at least one of codes"]),
    (minimal(placeholders={"lattitude": [0]}), ["[sources.police_x.placeholders", "lattitude"]),
    (minimal(offense_rows={"pick": "worst"}), ["[sources.police_x.offense_rows]", "key 'pick'", "'worst'"]),
    (minimal(encodings="utf-8"), ["[sources.police_x]", "key 'encodings'"]),
], ids=["misspelled-nested-key", "injection-as-column", "missing-occurred_at", "missing-columns", "no-key",
        "flag-table-typo", "second-layout-typo", "unknown-category", "empty-selector", "unknown-placeholder",
        "bad-literal", "wrong-type"])
def test_config_mistakes_are_one_line_naming_file_table_and_key(cfg, needles):
    with pytest.raises(ConfigError) as err:
        parse_mapped_source(cfg, file="config/x.toml", slug="police_x")
    msg = one_line(err.value)
    for needle in needles:
        assert needle in msg, msg


def models(model: type[BaseModel], seen=None) -> list[type[BaseModel]]:
    seen = seen if seen is not None else []
    if model in seen:
        return seen
    seen.append(model)
    for f in model.model_fields.values():
        for t in (*getattr(f.annotation, "__args__", ()), f.annotation):
            for inner in (*getattr(t, "__args__", ()), t):
                if isinstance(inner, type) and issubclass(inner, BaseModel):
                    models(inner, seen)
    return seen


def test_every_key_has_a_description_and_forbids_extras():
    found = models(MappedSourceConfig)
    assert len(found) >= 10
    for model in found:
        assert model.model_config.get("extra") == "forbid", model
        for name, f in model.model_fields.items():
            assert f.description and len(f.description) > 10, f"{model.__name__}.{name}"
    keys = [k for k, _, _ in config_reference()]
    assert "offense_rows.count_column" in keys and "columns.is_arrest.true_values" in keys
    assert "layouts.derived_key.occurrence_counter" in keys


def test_files_globs_expand_sorted_and_stay_in_the_data_dir(tmp_path):
    for name in ("2008-02_b.csv", "2008-01_a.csv", "other.txt"):
        (tmp_path / "m").mkdir(exist_ok=True)
        (tmp_path / "m" / name).write_text("x\n")
    got = resolve_files(tmp_path, ["m/*.csv"])
    assert [p.name for p in got] == ["2008-01_a.csv", "2008-02_b.csv"]
    with pytest.raises(ConfigError, match="matches no file"):
        resolve_files(tmp_path, ["m/*.csv.gz"])
    with pytest.raises(ConfigError, match="outside the data directory"):
        resolve_files(tmp_path, ["../etc/passwd"])

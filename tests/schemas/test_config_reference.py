"""The config key reference is built from the typed models: every key is in it, and the committed
docs/configuration.md is exactly what ``pulse config keys --markdown`` prints."""
from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from schemas.city_config import CityConfig, NeighborhoodsTable
from schemas.config_reference import config_keys, default_text, reference_markdown, source_section, type_text
from tasks.sources.catalog import SOURCE_MODELS
from tasks.sources.mapped_config import MappedSourceConfig

REPO = Path(__file__).resolve().parents[2]


def test_committed_configuration_doc_is_the_generated_one():
    generated = reference_markdown(config_keys(SOURCE_MODELS), SOURCE_MODELS)
    committed = (REPO / "docs" / "configuration.md").read_text()
    assert committed == generated, ("docs/configuration.md is stale: regenerate it with "
                                    "`python -m flows.cli.entry config keys --markdown > docs/configuration.md`")


def _leaf_keys(model: type[BaseModel], prefix: str = "") -> set[str]:
    out = set()
    for name, field in model.model_fields.items():
        out.add(prefix + name)
    return out


def test_every_key_of_every_model_is_in_the_reference_with_a_description():
    rows = config_keys(SOURCE_MODELS)
    by_section = {}
    for r in rows:
        by_section.setdefault(r.section, set()).add(r.key)
        assert r.description, f"{r.section} {r.key} has no description"
    assert _leaf_keys(NeighborhoodsTable) <= by_section["[neighborhoods]"]
    assert {"weights.k", "weights.islands"} <= by_section["[neighborhoods]"]
    mapped = by_section[source_section("mapped")]
    assert _leaf_keys(MappedSourceConfig) <= mapped
    assert {"columns.occurred_at", "offense_rows.count_column", "layouts[].rename", "layouts[].derived_key.fields",
            "columns.is_arrest.true_values", "offenses.drug.description_pattern"} <= mapped
    assert set(SOURCE_MODELS) == {s.split('"')[1] for s in by_section if s.startswith("[sources.")}
    assert "path" not in by_section["[city]"] | by_section["[neighborhoods]"]  # set by the loader, not a key
    assert {f"[{n}]" for n in ("city", "neighborhoods", "trends")} <= set(by_section)
    assert CityConfig.model_fields["sources"]  # sources are documented per adapter, not as one key


def test_types_and_defaults_read_as_toml():
    f = NeighborhoodsTable.model_fields
    assert type_text(f["name_case"].annotation) == "one of 'as_is', 'title'"
    assert default_text(f["name_case"]) == '"as_is"'
    assert default_text(f["file"]) == "required"
    assert default_text(f["population_file"]) == "none"
    m = MappedSourceConfig.model_fields
    assert type_text(m["layouts"].annotation) == "array of tables"
    assert default_text(m["encodings"]) == '["utf-8"]'
    assert type_text(m["incident_key"].annotation) == "list of text"

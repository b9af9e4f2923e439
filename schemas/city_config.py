"""The city configuration (one TOML file per city) as typed models, validated once at start-up.

``[city]``, ``[neighborhoods]`` and ``[trends]`` are parsed here; each ``[sources.<slug>]`` table is
parsed by the config model its ``adapter`` declares (``SourceConfig`` subclasses beside the
adapters, looked up by ``tasks.sources.catalog``). Every model forbids unknown keys, so a typo is one
clear line naming the file, the table and the key instead of a silently ignored setting. Paths in
the file are relative to the data directory (``PULSE_DATA_DIR``) unless a field says otherwise.
The key reference docs/configuration.md is generated from these models (``pulse config keys``).
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from schemas.errors import ConfigError


class ConfigModel(BaseModel):
    """Base of every config table: unknown keys are errors, values are immutable once parsed."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class CityTable(ConfigModel):
    name: str = Field(description="City name as the report writes it (e.g. 'St. Louis').")
    slug: str = Field(description="Short lowercase id used in file and run names.", pattern=r"^[a-z][a-z0-9_]*$")
    timezone: str = Field(description="IANA time zone of the city (dates and days are local to it).")
    bbox: tuple[float, float, float, float] = Field(
        description="lon_min, lat_min, lon_max, lat_max: coordinates outside are quarantined.")
    projected_crs: str = Field(description="A metre/foot CRS for distances (snapping, nearest neighbours), "
                                           "e.g. EPSG:3435.")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as America/Chicago)") from None
        return value


class WeightsTable(ConfigModel):
    rule: Literal["queen", "rook"] = Field("queen", description="Contiguity between areas for hot spots and "
                                                                "clusters.")
    islands: Literal["knn", "distance_band"] = Field(
        "knn", description="How an area touching no other area gets neighbours.")
    k: int = Field(3, ge=1, description="Neighbours per island area for islands = 'knn'.")
    distance_m: float | None = Field(None, gt=0, description="Band for islands = 'distance_band' (metres).")


class NeighborhoodsTable(ConfigModel):
    label: str = Field("neighborhood", description="What the city calls its areas, singular, as the report "
                                                   "writes it (e.g. 'community area').")
    label_plural: str | None = Field(None, description="Plural of label (default: label + 's').")
    file: str = Field(description="Boundary file (any format geopandas reads), relative to the data dir.")
    id_field: str = Field(description="Field of the boundary file holding the area id.")
    name_field: str = Field(description="Field holding the area name.")
    name_case: Literal["as_is", "title"] = Field(
        "as_is", description="'as_is' keeps names as the boundary file spells them; 'title' title-cases a file "
                             "that writes them in capitals (e.g. AUSTIN -> Austin).")
    crs: str = Field("EPSG:4326", description="CRS of the boundary file when it declares none.")
    population_file: str | None = Field(None, description="Optional CSV of population per area; without "
                                                          "it, rates are NULL and the report says why.")
    population_id_field: str | None = Field(None, description="Column of population_file holding the area id.")
    population_field: str | None = Field(None, description="Column of population_file holding the count.")
    population_source: str | None = Field(None, description="Where the population comes from, for the report "
                                                            "(e.g. '2010 Census').")
    weights: WeightsTable = Field(default_factory=WeightsTable, description="Spatial weights between areas.")

    @property
    def plural(self) -> str:
        return self.label_plural or f"{self.label}s"

    @model_validator(mode="after")
    def _population_columns(self) -> "NeighborhoodsTable":
        if self.population_file and not (self.population_id_field and self.population_field):
            raise ValueError("population_file needs population_id_field and population_field")
        return self


class SourceConfig(ConfigModel):
    """Base of every ``[sources.<slug>]`` table; each adapter declares a subclass with its keys."""

    adapter: str = Field(description="The adapter that reads this source (see tasks/sources/catalog.py).")


class CodeTable(ConfigModel):
    file: str = Field(description="CSV of every known offense code, relative to the data dir.")
    column: str = Field("IUCR", description="Column holding the code.")


class IncidentSourceConfig(SourceConfig):
    """Keys every police-incident source has (files or a Socrata API, validation bounds)."""

    files: list[str] = Field(default_factory=list, description="Incident files (CSV, CSV.gz), relative to "
                                                                "the data dir, loaded in order.")
    code_table: CodeTable | None = Field(None, description="Optional table of known offense codes: unknown "
                                                           "codes are quarantined.")
    earliest_date: str = Field("2001-01-01", description="Rows that occurred before this day are quarantined.")
    xy_crs: str | None = Field(None, description="CRS of projected x/y coordinates, when the source has them.")
    api_base_url: str | None = Field(None, description="Socrata portal, e.g. https://data.cityofchicago.org.")
    dataset_id: str | None = Field(None, description="Socrata dataset id, e.g. ijzp-q8t2.")
    page_size: int = Field(50_000, ge=1, description="Rows per API page.")
    watermark_field: str | None = Field(None, description="API field holding the last-updated time.")
    timeout_seconds: float = Field(60.0, gt=0, description="Seconds per API request before it counts as a "
                                                           "timeout.")
    max_attempts: int = Field(5, ge=1, description="Attempts per API request.")
    retry_backoff_seconds: float = Field(1.0, ge=0, description="First retry delay (doubling; Retry-After wins).")


class TrendsTable(ConfigModel):
    alarm_budget: float = Field(1.0, gt=0, description="False alert episodes allowed per area per year; "
                                                       "detector thresholds are calibrated to it.")


class CityConfig(ConfigModel):
    """One city: where it is, its areas, its sources and trend settings."""

    city: CityTable
    neighborhoods: NeighborhoodsTable
    sources: dict[str, SourceConfig] = Field(default_factory=dict)
    trends: TrendsTable = Field(default_factory=TrendsTable)
    path: Path | None = Field(None, exclude=True, description="The file it was read from (set by the loader).")

    def source(self, slug: str) -> SourceConfig:
        """Return ``[sources.<slug>]`` or one ConfigError line listing the configured sources."""
        try:
            return self.sources[slug]
        except KeyError:
            known = ", ".join(sorted(self.sources)) or "none"
            raise ConfigError(self.path or "city config", f"has no [sources.{slug}] table",
                              f"Add one, or pick a configured source: {known}") from None

    def sources_of(self, *types: type[SourceConfig]) -> dict[str, SourceConfig]:
        """Return the configured sources whose config is one of ``types`` (e.g. every incident source)."""
        return {slug: cfg for slug, cfg in self.sources.items() if isinstance(cfg, types)}


def parse_city_config(data: Mapping[str, Any], path: Path,
                      source_models: Mapping[str, type[SourceConfig]]) -> CityConfig:
    """Return the typed config of a parsed TOML document; one ConfigError line for the first problem.

    ``source_models`` maps an adapter name to the config model of its ``[sources.<slug>]`` table.
    """
    data = dict(data)
    raw_sources = data.pop("sources", {}) or {}
    if not isinstance(raw_sources, Mapping):
        raise ConfigError(path, "[sources] must be a table of [sources.<slug>] tables", "See README: a new city")
    sources: dict[str, SourceConfig] = {}
    for slug, table in raw_sources.items():
        where = f"[sources.{slug}]"
        if not isinstance(table, Mapping):
            raise ConfigError(path, f"{where} must be a table", f"Write it as a [sources.{slug}] table")
        adapter = table.get("adapter")
        if adapter not in source_models:
            raise ConfigError(path, f"{where} key 'adapter' is {adapter!r}, not a known adapter",
                              f"Use one of: {', '.join(sorted(source_models))}")
        sources[slug] = _validated(source_models[adapter], table, path, where)
    top = _validated(CityConfig, {**data, "sources": {}}, path, "")
    return top.model_copy(update={"sources": sources, "path": path})


def _validated(model: type[ConfigModel], table: Mapping[str, Any], path: Path, where: str) -> Any:
    try:
        return model.model_validate(table)
    except ValidationError as exc:
        raise config_error(exc, file=path, table=where.strip("[]")) from None


def _where(file: str | Path | None, table: str, loc: tuple) -> tuple[str, str | None]:
    parts, key = [table], None
    for p in loc:
        if isinstance(p, int):
            parts[-1] = f"{parts[-1]}[{p + 1}]"
        elif p[:1].isupper() or "[" in p or p in ("str", "list", "bool", "float", "dict"):
            continue  # pydantic's tag for a union member, not a key
        else:
            parts.append(p)
    if len(parts) > 1:
        key = parts.pop()
    return f"{file} [{'.'.join(parts)}]" if file else f"[{'.'.join(parts)}]", key


def _best_error(errors: list[dict]) -> dict:
    # A union (str | table) reports one error per member: prefer the one naming a key.
    order = {"extra_forbidden": 0, "missing": 1, "value_error": 2}
    return min(errors, key=lambda e: (order.get(e["type"], 3), -len(e["loc"])))


def config_error(err: ValidationError, *, file: str | Path | None, table: str) -> ConfigError:
    """Return one ConfigError line naming the file, the table (``sources.<slug>``) and the key."""
    e = _best_error(err.errors())
    where, key = _where(file, table, tuple(e["loc"]))
    if e["type"] == "extra_forbidden":
        return ConfigError(where, f"unknown key '{key}'", "Remove it or fix its spelling (see README: configuration keys)")
    if e["type"] == "missing":
        return ConfigError(where, f"missing key '{key}'", "Add it (see README: configuration keys)")
    msg = str(e["msg"]).removeprefix("Value error, ")
    if key is None:
        return ConfigError(where, msg, "See README: configuration keys")
    return ConfigError(where, f"key '{key}': {msg} (got {e.get('input')!r})", "See README: configuration keys")

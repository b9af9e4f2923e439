"""Typed configuration of a ``mapped`` police source: one ``[sources.<slug>]`` table of a city TOML.

``MappedSourceConfig.model_validate(table)`` checks every key (unknown or missing keys are
errors); ``parse_mapped_source`` does that and turns a failure into one ``ConfigError`` line
naming the file, the table and the key. Every field carries a description: the README's
new-city guide is generated from these models (``config_reference``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, Field, ValidationError, field_validator, model_validator

from schemas.city_config import CodeTable, ConfigModel, IncidentSourceConfig, config_error
from schemas.errors import ConfigError
from schemas.incidents import OFFENSE_CATEGORIES

DRUG_CATEGORIES = tuple(c for c in OFFENSE_CATEGORIES if c != "non_drug")
DrugCategory = Literal["possession", "sale_delivery", "manufacture", "paraphernalia", "other_drug"]
# Canonical fields a derived key or a placeholder may name (values after parsing).
KeyField = Literal["occurred_at", "reported_at", "case_number", "iucr", "description", "block", "beat", "district",
                   "ward", "source_area_id", "latitude", "longitude", "x_coordinate", "y_coordinate"]
PlaceholderField = Literal["occurred_at", "reported_at", "updated_at", "case_number", "iucr", "primary_type",
                           "description", "fbi_code", "location_description", "block", "beat", "district", "ward",
                           "source_area_id", "latitude", "longitude", "x_coordinate", "y_coordinate"]
DEFAULT_TRUE = ("true", "t", "y", "yes", "1")
DEFAULT_FALSE = ("false", "f", "n", "no", "0")
# Most serious first; the incident row names the first active offense in this order.
DEFAULT_PRECEDENCE = ("manufacture", "sale_delivery", "possession", "other_drug", "paraphernalia")


Strict = ConfigModel  # every table forbids unknown keys and is immutable once parsed


class FlagMap(Strict):
    """A yes/no value from a source column: lists of true/false texts or a small mapping table."""

    column: str = Field(description="Source column holding the flag (or a resolution text).")
    true_values: list[str] = Field(default=list(DEFAULT_TRUE),
                                   description="Texts meaning yes (compared stripped; case-insensitive by default).")
    false_values: list[str] = Field(default=list(DEFAULT_FALSE), description="Texts meaning no.")
    values: dict[str, bool] = Field(default_factory=dict, description=(
        "Mapping table: source text -> true/false, e.g. {\"Cite or Arrest Adult\" = true, \"Open or Active\" = false}; "
        "entries win over true_values/false_values."))
    blank: bool | None = Field(default=None, description="Value of an empty cell (default: unknown). Boston "
                                                         "SHOOTING is 'Y' or empty, so blank = false there.")
    case_sensitive: bool = Field(default=False, description="Compare texts case-sensitively.")


Flag = str | FlagMap


class ColumnsConfig(Strict):
    """Canonical column = source column. A list of columns is joined with a space (address parts)."""

    occurred_at: str = Field(description="When the incident happened (required).")
    reported_at: str | None = Field(default=None, description="When it was reported or coded (St. Louis CodedMonth).")
    updated_at: str | None = Field(default=None, description="When the source last changed the row; a newer "
                                                             "value replaces the stored incident.")
    case_number: str | list[str] | None = Field(default=None, description="Police case / complaint number.")
    iucr: str | list[str] | None = Field(default=None, description="The offense code as published (IUCR in Chicago, "
                                                                   "UCR-based codes elsewhere).")
    primary_type: str | list[str] | None = Field(default=None, description="Offense group or primary type.")
    description: str | list[str] | None = Field(default=None, description="Offense description.")
    fbi_code: str | list[str] | None = Field(default=None, description="FBI / UCR code, if separate.")
    location_description: str | list[str] | None = Field(default=None, description="Kind of place (street, residence, ...).")
    block: str | list[str] | None = Field(default=None, description="Street or block address; a list joins "
                                                                    "number and street.")
    beat: str | list[str] | None = Field(default=None, description="Police beat (patrol area).")
    district: str | list[str] | None = Field(default=None, description="Police district (precinct).")
    ward: str | list[str] | None = Field(default=None, description="Ward (city council district).")
    source_area_id: str | list[str] | None = Field(default=None, description=(
        "The source's own neighborhood id; used when a row has no point and to measure geocoding agreement."))
    is_arrest: Flag | None = Field(default=None, description="Arrest flag: a column of true/false-like text, or "
                                                             "a table {column, true_values, false_values, values, blank}.")
    is_domestic: Flag | None = Field(default=None, description="Domestic flag (same forms as is_arrest).")
    is_shooting: Flag | None = Field(default=None, description="Shooting flag (same forms as is_arrest).")


class TimestampsConfig(Strict):
    formats: list[str] = Field(default=["ISO8601"], description=(
        "strptime formats tried in order (\"ISO8601\" = any ISO 8601 text); %m/%d/%H accept unpadded numbers; "
        "a literal offset label such as +00 can be part of the format."))
    timezone: str | None = Field(default=None, description="Zone of the source's wall-clock values (default: the "
                                                           "city's); output is always city-local.")
    by_field: dict[Literal["occurred_at", "reported_at", "updated_at"], list[str]] = Field(
        default_factory=dict, description="Formats for one field instead of `formats`, e.g. reported_at = [\"%Y-%m\"].")


class CoordinatesConfig(Strict):
    latitude: str | None = Field(default=None, description="Latitude column (WGS84 degrees).")
    longitude: str | None = Field(default=None, description="Longitude column.")
    x: str | None = Field(default=None, description="Projected x column, used where lat/lon are missing.")
    y: str | None = Field(default=None, description="Projected y column.")
    xy_crs: str | None = Field(default=None, description="CRS of x/y, e.g. EPSG:3435 (Illinois East ftUS) or "
                                                         "ESRI:102696 (Missouri East ftUS).")


class OffenseSelector(Strict):
    """Which offense rows a rule picks: any (or all) of codes, a code pattern, groups, a description pattern."""

    codes: list[str] = Field(default_factory=list, description="Offense codes (compared after stripping).")
    code_pattern: str | None = Field(default=None, description="Regular expression the whole code must match.")
    groups: list[str] = Field(default_factory=list, description="The city's own group/category values, e.g. "
                                                                "[\"Drug Violation\"] (case-insensitive).")
    description_pattern: str | None = Field(default=None, description="Regular expression searched in the "
                                                                      "description (case-insensitive).")
    match: Literal["any", "all"] = Field(default="any", description="'any': a row matching one criterion is "
                                                                    "picked; 'all': it must match every given one.")

    @model_validator(mode="after")
    def _not_empty(self) -> "OffenseSelector":
        if not (self.codes or self.code_pattern or self.groups or self.description_pattern):
            raise ValueError("give at least one of codes, code_pattern, groups, description_pattern")
        return self


class OffensesConfig(Strict):
    code_column: str | None = Field(default=None, description="Source column of the offense code (default: the "
                                                              "column mapped to iucr).")
    group_column: str | None = Field(default=None, description="Source column of the city's offense group "
                                                               "(default: the column mapped to primary_type).")
    description_column: str | None = Field(default=None, description="Source column of the description "
                                                                     "(default: the column mapped to description).")
    strip_leading_zeros: bool = Field(default=True, description="Compare codes without leading zeros (0486 = 486).")
    drug: OffenseSelector | None = Field(default=None, description=(
        "Which rows are drug offenses. Without it, a row is a drug offense when a category below matches."))
    possession: list[str] | OffenseSelector | None = Field(default=None, description="Possession: a code list or "
                                                                                    "a selector table.")
    sale_delivery: list[str] | OffenseSelector | None = Field(default=None, description="Sale, delivery, "
                                                                                       "trafficking, intent.")
    manufacture: list[str] | OffenseSelector | None = Field(default=None, description="Manufacture, cultivation.")
    paraphernalia: list[str] | OffenseSelector | None = Field(default=None, description="Equipment (NIBRS 35B).")
    other_drug: list[str] | OffenseSelector | None = Field(default=None, description="Other drug offenses; drug "
                                                                                    "rows no category matches land here.")
    match_order: list[DrugCategory] = Field(default=list(DEFAULT_PRECEDENCE), description=(
        "Order the category rules are tried in; a row takes the first that matches (a code list is exact, so "
        "put broad patterns last)."))


class DerivedKeyConfig(Strict):
    """An incident id made from canonical values where a layout has none (stable across reruns)."""

    fields: list[KeyField] = Field(min_length=1, description=(
        "Canonical fields hashed into the id (values after parsing: dates as ISO text, text stripped and upper-cased)."))
    prefix: str = Field(default="", description="Text put before the hash, e.g. \"A-\", so ids never collide "
                                                "with real ones.")
    occurrence_counter: bool = Field(default=False, description=(
        "Append -<n> for the n-th row with the same hash in a file (each row its own incident); false: rows "
        "with the same hash are offense rows of one incident."))


class LayoutConfig(Strict):
    """One header layout of a source whose columns change between files; chosen by the file's header."""

    name: str = Field(description="A label, recorded as the batch's layout.")
    when_columns: list[str] = Field(min_length=1, description="The layout applies to a file whose header has all "
                                                              "of these columns (first matching layout wins).")
    rename: dict[str, str] = Field(default_factory=dict, description="Header aliases: this file's column -> the "
                                                                     "name the mappings above use.")
    incident_key: list[str] | None = Field(default=None, description="Key columns for this layout (default: the "
                                                                     "source's incident_key).")
    derived_key: DerivedKeyConfig | None = Field(default=None, description="Derive the id for this layout "
                                                                           "(it has no id column).")


class OffenseRowsConfig(Strict):
    """The feed has one row per incident x offense: rows sharing the key are collapsed into one incident."""

    count_column: str | None = Field(default=None, description=(
        "Column of +1 / -1 counts: a -1 row reverses a +1 of the same incident and code (official tally = sum)."))
    pick: Literal["drug_first", "code_order"] = Field(default="drug_first", description=(
        "Offense named on the incident row: 'drug_first' = any active drug offense (by precedence) before "
        "others, then code order; 'code_order' = code order only."))
    category_order: list[DrugCategory] = Field(default=list(DEFAULT_PRECEDENCE), description=(
        "Pick order of drug categories for the incident row, most serious first."))
    code_order: Literal["numeric", "none"] = Field(default="numeric", description=(
        "Seriousness among equals: 'numeric' = lowest code number first (UCR hierarchy order in UCR-based "
        "codes); 'none' = code text order."))


CodeTableConfig = CodeTable


class MappedSourceConfig(IncidentSourceConfig):
    """A police source read by the generic ``mapped`` adapter (CSV/CSV.gz files)."""

    adapter: Literal["mapped"] = Field(default="mapped", description="\"mapped\" picks this adapter.")
    files: list[str] = Field(default_factory=list, description="Files relative to the data directory; glob "
                                                               "patterns (*.csv.gz) expand in sorted order.")
    incident_key: list[str] | None = Field(default=None, validation_alias=AliasChoices("incident_key", "id_column"),
                                           description=(
        "Source column(s) identifying an incident (id_column is accepted too); several are joined with '|'."))
    derived_key: DerivedKeyConfig | None = Field(default=None, description="Derive the id when no column has one.")
    columns: ColumnsConfig = Field(description="Canonical column = source column.")
    timestamps: TimestampsConfig = Field(default_factory=TimestampsConfig, description="Date formats and zone.")
    coordinates: CoordinatesConfig = Field(default_factory=CoordinatesConfig, description="Point columns.")
    offenses: OffensesConfig = Field(default_factory=OffensesConfig, description="Drug offenses and categories.")
    placeholders: dict[PlaceholderField, list[str | float]] = Field(default_factory=dict, description=(
        "Values meaning missing, per canonical field: numbers compare as numbers (0, -1), dates as dates "
        "(\"1900-01-01\" = any time that day), text as stripped text (\"0\"). A placeholder coordinate blanks the "
        "whole point. Default: x/y of 0."))
    layouts: list[LayoutConfig] = Field(default_factory=list, description="Header layouts, for sources whose "
                                                                          "columns change between files.")
    offense_rows: OffenseRowsConfig | None = Field(default=None, description="Set when several rows share an "
                                                                             "incident (one row per offense).")
    encodings: list[str] = Field(default=["utf-8"], description=(
        "Encodings tried per file, in order (a UTF-8 BOM is always dropped); the one used is recorded."))
    earliest_date: str = Field(default="2001-01-01", description="Rows that occurred before this are quarantined.")
    code_table: CodeTableConfig | None = Field(default=None, description="Optional table of known offense codes.")
    watermark_field: str | None = Field(default=None, description="API field used as the incremental watermark.")

    @field_validator("incident_key", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @model_validator(mode="after")
    def _has_a_key(self) -> "MappedSourceConfig":
        layout_keys = all(lay.incident_key or lay.derived_key for lay in self.layouts) and self.layouts
        if not (self.incident_key or self.derived_key or layout_keys):
            raise ValueError("missing key 'incident_key' (or id_column): name the id column(s), or give a derived_key")
        return self


def parse_mapped_source(table: dict[str, Any], *, file: str | Path | None, slug: str) -> MappedSourceConfig:
    """Return the typed config of ``[sources.<slug>]``; raise one ConfigError line when it is wrong."""
    try:
        return MappedSourceConfig.model_validate(table)
    except ValidationError as err:
        raise config_error(err, file=file, table=f"sources.{slug}") from None


def resolve_files(data_dir: Path, patterns: list[str]) -> list[Path]:
    """Return the configured files under ``data_dir`` (globs expanded, sorted); ConfigError if one matches none."""
    out: list[Path] = []
    for pattern in patterns:
        if Path(pattern).is_absolute() or ".." in Path(pattern).parts:
            raise ConfigError(f"files entry {pattern!r}", "is outside the data directory", "Use a relative path")
        found = sorted(data_dir.glob(pattern)) if any(ch in pattern for ch in "*?[") else [data_dir / pattern]
        found = [p for p in found if p.exists()]
        if not found:
            raise ConfigError(f"files entry {pattern!r}", f"matches no file under {data_dir}",
                              "Check the path and PULSE_DATA_DIR")
        out.extend(found)
    return out


def config_reference(model: type[BaseModel] = MappedSourceConfig, prefix: str = "") -> list[tuple[str, str, str]]:
    """Return (key, type, description) rows for every key of ``model`` and its tables, for the README."""
    rows = []
    for name, field in model.model_fields.items():
        ann = field.annotation
        sub = next((t for t in getattr(ann, "__args__", (ann,)) if isinstance(t, type) and issubclass(t, BaseModel)),
                   None)
        type_text = str(ann).replace("typing.", "").replace("tasks.sources.mapped_config.", "")
        rows.append((prefix + name, type_text, field.description or ""))
        if sub is not None and sub is not model:
            rows.extend(config_reference(sub, prefix + name + "."))
    return rows

"""One typed settings object for the whole pipeline (env prefix ``PULSE_``).

Flows build it once and pass plain values down; tasks and adapters never read the
environment or config files themselves.
"""
from __future__ import annotations

import os
import tomllib
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.city_config import CityConfig, parse_city_config
from schemas.errors import ConfigError
from tasks.sources.catalog import SOURCE_MODELS

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Deployment settings; every field can be set as ``PULSE_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="PULSE_", extra="ignore", validate_assignment=True)

    data_dir: Path = Field(
        default=REPO_ROOT.parent / "shared" / "data",
        description="Folder holding the public input data (read in place, never copied).",
    )
    work_dir: Path = Field(
        default=REPO_ROOT / "data",
        description="Folder for the raw landing zone, validation docs, reports and the DuckDB file.",
    )
    # A secret: it may carry a password, and Prefect stores flow parameters (this object) for the UI.
    warehouse_url: SecretStr | None = Field(
        default=None,
        description="SQLAlchemy URL of the warehouse; default duckdb:///<work_dir>/pulse.duckdb.",
    )
    city_config: Path = Field(default=REPO_ROOT / "config" / "chicago.toml",
                              description="The city TOML; a relative path is relative to the working directory.")
    police_mode: str = Field(
        default="files", description="'files' (CSV/CSV.gz in the data dir) or 'api' (the source's Socrata API)."
    )
    socrata_app_token: SecretStr | None = None
    pseudonym_key: SecretStr | None = Field(
        default=None, description="Key for HMAC-SHA256 pseudonymization of person ids."
    )
    small_cell_threshold: int = Field(
        default=10, description="Counts from person-level data in 1..threshold are suppressed."
    )
    chunk_rows: int = Field(default=100_000, description="Max rows processed at once (bounds memory).")
    load_slot_wait_seconds: float = Field(default=600.0, gt=0, description="How long a batch waits for its "
                                          "source's load slot (another run loading the same source) before failing.")
    snap_tolerance_m: float = Field(default=250.0)

    @field_validator("city_config")
    @classmethod
    def _absolute_config(cls, value: Path) -> Path:
        # Resolved once, against the cwd the user typed it in: flows and deployments may run elsewhere.
        return value.expanduser() if value.expanduser().is_absolute() else Path.cwd() / value

    @property
    def resolved_warehouse_url(self) -> str:
        if self.warehouse_url and self.warehouse_url.get_secret_value():
            return self.warehouse_url.get_secret_value()
        return f"duckdb:///{(self.work_dir / 'pulse.duckdb').resolve()}"

    @property
    def raw_dir(self) -> Path:
        return self.work_dir / "raw"

    @property
    def validation_dir(self) -> Path:
        return self.work_dir / "validation"

    @property
    def reports_dir(self) -> Path:
        return self.work_dir / "reports"

    @cached_property
    def city(self) -> CityConfig:
        """The city config, read once and validated (one ConfigError line naming the table and key)."""
        try:
            with open(self.city_config, "rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(self.city_config, "city config file not found",
                              "Set PULSE_CITY_CONFIG to a file in config/ (e.g. config/chicago.toml)") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(self.city_config, f"is not valid TOML ({exc})", "Fix the syntax at that line") from None
        return parse_city_config(data, Path(self.city_config), SOURCE_MODELS)

    def override_source(self, slug: str, **changes: Any) -> None:
        """Change keys of ``[sources.<slug>]`` for this Settings object (validated like the file)."""
        cfg = self.city.source(slug)
        updated = type(cfg).model_validate({**cfg.model_dump(exclude_unset=True), **changes})
        self.__dict__["city"] = self.city.model_copy(update={"sources": {**self.city.sources, slug: updated}})

    def data_path(self, relative: str) -> Path:
        """Return a configured input path; it must stay inside the data directory."""
        # Lexical check: '..' and absolute paths are refused; a symlink an operator put inside the
        # data directory is allowed.
        root = Path(os.path.normpath(self.data_dir.absolute()))
        path = self.data_dir / relative
        if not Path(os.path.normpath(path.absolute())).is_relative_to(root):
            raise ConfigError(self.city_config, f"input path {relative!r} is outside the data directory {root}",
                              "List inputs relative to PULSE_DATA_DIR, without '..' or absolute paths")
        return path


def get_settings(**overrides: Any) -> Settings:
    return Settings(**overrides)

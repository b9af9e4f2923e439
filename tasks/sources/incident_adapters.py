"""Pick a police-incident adapter from a source's config: ``police_chicago`` or ``mapped``."""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from schemas.errors import ConfigError
from tasks.sources import police_chicago
from tasks.sources.mapped import IncidentMapping, read_raw_csv, standardize_incidents


@dataclass(frozen=True)
class IncidentAdapter:
    read_raw: Callable[[Path], Iterator[pa.RecordBatch]]
    to_standard: Callable[[pd.DataFrame], pd.DataFrame]
    api_records_to_raw: Callable[[list], pa.Table] | None
    watermark_field: str | None


def incident_adapter(cfg: Mapping[str, Any], city_timezone: str) -> IncidentAdapter:
    """Return the adapter named by ``cfg['adapter']`` for one ``[sources.<slug>]`` table."""
    kind = cfg.get("adapter")
    if kind == "police_chicago":
        return IncidentAdapter(police_chicago.read_raw, police_chicago.to_standard, police_chicago.api_records_to_raw,
                               police_chicago.WATERMARK_FIELD)
    if kind == "mapped":
        mapping = IncidentMapping.from_config(cfg, city_timezone)
        return IncidentAdapter(partial(read_raw_csv, mapping=mapping), partial(standardize_incidents, mapping=mapping),
                               None, cfg.get("watermark_field"))
    raise ConfigError("city config", f"unknown adapter {kind!r}", "Use adapter = \"police_chicago\" or \"mapped\"")

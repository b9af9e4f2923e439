"""What the report shows: the aggregates flows/report.py reads (ReportData), shared by render and findings."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from tasks.report.sections import ReportContext
from tasks.trends.prepare import Span


@dataclass(frozen=True)
class ReportData:
    """Everything the report shows; every frame is an aggregate read by flows/report.py."""

    neighborhoods: pd.DataFrame  # neighborhood_id, name, population, geometry_wkt
    signals: pd.DataFrame  # trend_signals rows
    impact: pd.DataFrame  # program_impact rows
    programs: pd.DataFrame  # program_id, name, program_type, is_synthetic
    weekly: pd.DataFrame  # complete weeks: neighborhood_id (null = citywide), period_start, value
    monthly: pd.DataFrame  # complete months, same columns
    span: Span
    quality: dict[str, pd.DataFrame]  # batches, quarantine, precision (warehouse.reads.read_data_quality)
    offenses: pd.DataFrame  # is_drug_offense, offense_category, n, n_arrest
    projected_crs: str = "EPSG:3435"
    generated_at: pd.Timestamp = field(default_factory=lambda: pd.Timestamp.now().floor("s"))
    city: str = "Chicago"
    metric: str = "drug_incidents"
    episodes: pd.DataFrame | None = None  # alert_episodes rows; None = built from ``signals`` (tests)
    context: ReportContext | None = None  # the city's language; None = generic ("neighborhood")
    sections: dict[str, Any] | None = None  # data read by each section's ``read``; None = from the frames above

    def ctx(self) -> ReportContext:
        """Return the report context (a generic one when the flow gave none)."""
        if self.context is not None:
            return self.context
        return ReportContext(city=self.city, area_label="neighborhood", area_label_plural="neighborhoods",
                             population_source=None, timezone="UTC", neighborhoods=self.neighborhoods,
                             projected_crs=self.projected_crs, generated_at=self.generated_at)

    def alert_episodes(self) -> pd.DataFrame:
        """Return the alert episodes (stored, or built from ``signals`` with the registry)."""
        if self.episodes is not None:
            return self.episodes
        from tasks.trends.episodes import alert_episodes

        if self.signals.empty:
            return alert_episodes(self.signals)
        parts = [alert_episodes(g) for _, g in self.signals.groupby("grain")]
        parts = [p for p in parts if len(p)]
        return pd.concat(parts, ignore_index=True) if parts else alert_episodes(self.signals.iloc[0:0])

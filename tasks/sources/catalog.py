"""Which adapters exist and the config model of each one's ``[sources.<slug>]`` table.

The city config parser (``flows.settings``) validates every source table with the model its
``adapter`` key names here; the feed flows build the adapter from that typed config.
"""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas.city_config import IncidentSourceConfig, SourceConfig
from tasks.sources.mapped_config import MappedSourceConfig


class PoliceChicagoConfig(IncidentSourceConfig):
    """Chicago's "Crimes - 2001 to present" files or Socrata API (the layout is built in)."""


class ProgramsCplConfig(SourceConfig):
    files: list[str] = Field(description="Chicago Public Library visitors-by-location files, one per year.")
    locations_file: str = Field(description="Branch locations (coordinates for years without a point column).")


class ProgramsDemoConfig(SourceConfig):
    out_dir: str = Field("demo/programs", description="Where the generated files are written, relative to the "
                                                      "WORK dir.")
    seed: int = Field(20160101, description="Random seed of the generator.")
    crimes_file: str = Field(description="Incident file whose drug incidents place the programs (data dir).")


class TreatmentProviderConfig(SourceConfig):
    export: str = Field("demo/treatment_admissions.csv", description="Provider export (WORK dir); the demo "
                                                                     "export is generated when absent.")
    rows: int = Field(20_000, ge=1, description="Admissions in the generated demo export.")
    seed: int = Field(2017, description="Random seed of the demo export.")
    defect_rate: float = Field(0.035, ge=0, le=1, description="Share of demo rows with a planted defect.")


class TedsConfig(SourceConfig):
    files: list[str] = Field(description="TEDS-A public-use CSV files, relative to the data dir.")
    admission_year: int | None = Field(None, description="Year of every row when the file has no ADMYR column.")


class FacilitiesConfig(SourceConfig):
    files: list[str] = Field(description="The three facility listings the adapter knows (data dir).")


class MedicalExaminerConfig(SourceConfig):
    """One export of the Cook County Medical Examiner case archive (one table per export)."""

    file: str = Field(description="The export (CSV or CSV.gz), relative to the data dir.")
    layout: Literal["hub", "portal"] = Field(description="hub = ArcGIS Hub schema (UTC, Yes/No); portal = "
                                                          "Socrata schema (local time, true/empty flags).")
    label: str = Field(description="Name of the export in the warehouse (export_label), e.g. hub_opioid_2023-08.")
    exported_at: str | None = Field(None, description="Local ISO time the export was taken: the version of its "
                                                      "rows when the layout has no edit-time column (portal).")
    timezone: str | None = Field(None, description="Zone of the export's timestamps (default: the layout's).")
    columns: dict[str, str] = Field(default_factory=dict, description="Canonical field -> source column "
                                                                      "overrides.")
    provisional_months: int = Field(5, ge=0, description="Data-lag window: the export's last N months of data "
                                                         "are provisional (5 = estimated from the 2018 and 2023 "
                                                         "exports, tasks/trends/provisional.py).")
    address_fallback: bool = Field(True, description="Place cases without coordinates by their street "
                                                     "(offline geocoder) and ZIP when the incident city is the city.")

    def adapter_table(self) -> dict:
        """The table ``tasks.sources.medical_examiner.ExportConfig.from_config`` reads."""
        keys = ("adapter", "layout", "label", "exported_at", "timezone", "columns")
        return {k: v for k, v in self.model_dump().items() if k in keys and v not in (None, {})}


class CommunitySurveyConfig(SourceConfig):
    files: list[str] = Field(description="Chicago Health Atlas 'Data Download - Community areas' files (data dir).")
    encoding: str = Field("utf-8-sig", description="Text encoding of the files.")


class PoliceSentimentConfig(SourceConfig):
    files: list[str] = Field(description="CPD Police Sentiment Scores exports (CSV or CSV.gz, data dir).")
    beats_file: str = Field("chicago_boundaries/police_beats.geojson",
                            description="Police beat polygons (sectors are beats grouped by 3 digits).")
    districts_file: str = Field("chicago_boundaries/police_districts.geojson", description="Police district polygons.")


class ArrestsExportConfig(SourceConfig):
    export: str = Field("demo/outcomes/arrests.csv", description="Arrests export (WORK dir); the SYNTHETIC demo "
                                                                 "export is generated when absent.")
    code_table: str = Field(description="IUCR code table the charge codes are checked against (data dir).")
    seed: int = Field(20181112, description="Random seed of the demo export.")
    planted_rr: float = Field(0.75, gt=0, le=1, description="Planted re-arrest risk ratio of the demo's effect programs.")
    defect_rate: float = Field(0.005, ge=0, le=1, description="Share of demo lines with a planted defect.")
    programs_source: str = Field("programs_demo", description="Demo programs source whose roster ids the export reuses.")
    admissions_source: str = Field("treatment_demo", description="Demo admissions source whose client ids it reuses.")


class ProviderDischargesConfig(SourceConfig):
    export: str = Field("demo/outcomes/treatment_discharges.csv", description="Provider discharges export (WORK "
                                                                               "dir); the demo writes it with the arrests.")
    linked_admissions: str | None = Field("demo/outcomes/treatment_admissions_linked.csv",
                                          description="Admissions the discharges close that the admissions export "
                                                      "lacks (WORK dir; loaded into fct_treatment_admissions first).")
    arrests_source: str = Field("arrests_demo", description="The arrests demo source that generates the export.")


class TedsDischargesConfig(SourceConfig):
    files: list[str] = Field(description="TEDS-D public-use CSV files (numeric PUF or the decoded sample), data dir.")


class OutcomeMeasuresConfig(SourceConfig):
    programs_source: str = Field("programs_demo", description="Programs whose participants are evaluated.")
    k: int = Field(5, ge=1, description="Comparison people matched per participant (exact matching).")
    seed: int = Field(0, description="Seed of the random pick among eligible comparison people.")


SOURCE_MODELS: dict[str, type[SourceConfig]] = {
    "police_chicago": PoliceChicagoConfig,
    "mapped": MappedSourceConfig,
    "programs_cpl": ProgramsCplConfig,
    "programs_demo": ProgramsDemoConfig,
    "treatment_provider": TreatmentProviderConfig,
    "treatment_teds": TedsConfig,
    "treatment_facilities": FacilitiesConfig,
    "medical_examiner": MedicalExaminerConfig,
    "community_survey": CommunitySurveyConfig,
    "police_sentiment": PoliceSentimentConfig,


    "arrests_export": ArrestsExportConfig,
    "treatment_discharges_provider": ProviderDischargesConfig,
    "treatment_discharges_teds": TedsDischargesConfig,
    "outcome_measures": OutcomeMeasuresConfig,
}

"""Every source the city config declares, run by the flow its adapter names.

``pulse run`` and the nightly flow run what the config lists, group by group (police first), so
a city with only a police feed runs end to end and a city with more feeds needs no code. A feed
flow takes ``source`` (the ``[sources.<slug>]`` it reads) and ``settings``. Adding an adapter is
its module, its config model in ``tasks.sources.catalog`` and one line here.
"""
from __future__ import annotations

import importlib

from prefect import Flow, flow, get_run_logger

from flows.settings import Settings
from schemas.errors import ConfigError, PulseError

# Stage groups in run order; a group runs its sources in the order the config lists them.
GROUPS = ("police", "treatment", "programs", "health", "outcomes")

# adapter -> (group, "module:flow")
FEED_FLOWS: dict[str, tuple[str, str]] = {
    "police_chicago": ("police", "flows.police_incidents:police_incidents_flow"),
    "mapped": ("police", "flows.police_incidents:police_incidents_flow"),
    "treatment_facilities": ("treatment", "flows.treatment:facilities_flow"),
    "treatment_teds": ("treatment", "flows.treatment:teds_flow"),
    "treatment_provider": ("treatment", "flows.treatment:treatment_flow"),
    "programs_cpl": ("programs", "flows.programs:library_programs_flow"),
    "programs_demo": ("programs", "flows.programs:demo_programs_flow"),
    "medical_examiner": ("health", "flows.health:medical_examiner_flow"),
    "community_survey": ("health", "flows.health:survey_indicators_flow"),
    "police_sentiment": ("health", "flows.health:police_sentiment_flow"),
    "treatment_discharges_teds": ("treatment", "flows.outcomes:teds_discharges_flow"),
    # After programs (the demo arrests reuse the rosters); the measures step last, after the feeds.
    "arrests_export": ("outcomes", "flows.outcomes:arrests_flow"),
    "treatment_discharges_provider": ("outcomes", "flows.outcomes:provider_discharges_flow"),
    "outcome_measures": ("outcomes", "flows.outcomes:outcome_measures_flow"),
}


def configured_feeds(settings: Settings, group: str) -> list[tuple[str, str]]:
    """Return (source slug, flow target) for every configured source of ``group``, in config order."""
    if group not in GROUPS:
        raise ConfigError("feed group", f"unknown group {group!r}", f"Use one of {', '.join(GROUPS)}")
    out = [(slug, FEED_FLOWS[cfg.adapter][1]) for slug, cfg in settings.city.sources.items()
           if FEED_FLOWS.get(cfg.adapter, ("", ""))[0] == group]
    if group == "police" and not out:
        raise ConfigError(settings.city_config, "declares no police source",
                          'Add a [sources.<slug>] table with adapter = "mapped" (see README: a new city)')
    return out


def feed_flow(target: str) -> Flow:
    module, attr = target.split(":")
    return getattr(importlib.import_module(module), attr)


@flow(name="feeds", flow_run_name="{group} feeds")
def run_feed_group(group: str, sources: list[str] | None = None, police_mode: str | None = None,
                   settings: Settings | None = None) -> list[dict]:
    """Run every configured source of ``group`` (or only ``sources``) as a subflow; return their batch summaries.

    ``police_mode`` (files | api) goes to the police flows. A failing source does not stop the
    others; after all ran, the first failure is raised with the names of every failed source.
    """
    settings = settings or Settings()
    log = get_run_logger()
    feeds = configured_feeds(settings, group)
    if sources:
        unknown = sorted(set(sources) - {slug for slug, _ in feeds})
        if unknown:
            raise ConfigError(settings.city_config, f"has no {group} source {', '.join(unknown)}",
                              f"Pick one of {', '.join(slug for slug, _ in feeds)}")
        feeds = [(slug, target) for slug, target in feeds if slug in sources]
    extra = {"mode": police_mode} if group == "police" and police_mode else {}
    summaries, failed = [], []
    for slug, target in feeds:
        state = feed_flow(target)(source=slug, settings=settings, return_state=True, **extra)
        if state.is_completed():
            summaries += state.result()
            continue
        exc = state.result(raise_on_failure=False)
        log.error("%s failed: %s", slug, exc)
        failed.append((slug, exc))
    if failed:
        first = failed[0][1]
        if len(failed) == 1 and isinstance(first, BaseException):
            raise first
        raise PulseError(f"{group} feeds", f"{len(failed)} source(s) failed ({', '.join(s for s, _ in failed)}); "
                         f"first: {first}", "Fix the input named above and rerun; sources that loaded are kept")
    return summaries

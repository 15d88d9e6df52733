"""Enrichment's own knobs (``SOCIALCRM_ENRICHMENT_*``), apart from the core Settings."""

from __future__ import annotations

from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict


class EnrichmentSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SOCIALCRM_ENRICHMENT_", extra="ignore")

    nightly: str = "30 2 * * *"  # cron: minute hour day month weekday (UTC)
    batch_size: int = 50
    slice_s: float = 20.0  # a task works this long, then hands the run back to the queue
    batch_s: float = 10.0  # a batch commits at least this often
    lease_s: float = 60.0  # a run whose worker stopped heartbeating is resumed after this
    max_outage_attempts: int = 40  # ~ 14 h of capped exponential backoff before failing


@lru_cache(maxsize=1)
def enrichment_settings() -> EnrichmentSettings:
    return EnrichmentSettings()

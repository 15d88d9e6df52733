"""IMAP sync's own knobs (``SOCIALCRM_IMAP_*``), apart from the core Settings."""

from __future__ import annotations

from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict


class ImapSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SOCIALCRM_IMAP_", extra="ignore")

    # A sync renews its lease with every message; one whose worker died is resumed after this.
    # Longer than the slowest message (a 10 MB fetch at the 30 s socket timeout, then parsing).
    lease_s: float = 120.0


@lru_cache(maxsize=1)
def imap_settings() -> ImapSettings:
    return ImapSettings()

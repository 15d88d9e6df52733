"""Discovery's own settings, ``SOCIALCRM_DISCOVERY_*`` environment variables."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from socialcrm import __version__


class DiscoverySettings(BaseSettings):
    """How the website crawler behaves and how big jobs are cut and limited."""

    model_config = SettingsConfigDict(env_prefix="SOCIALCRM_DISCOVERY_", extra="ignore")

    # Sites in flight per chunk runner: a whole chunk at once (bench/discovery.py: 100 gave
    # 161 sites/s, 250 gave 170 on 2 cores; the time goes in waiting on slow sites).
    concurrency: int = Field(default=250, ge=1, le=2000)
    per_host: int = Field(default=1, ge=1, le=16)  # requests in flight to one host
    host_delay_s: float = Field(default=0.1, ge=0, le=60)  # between two requests to one host
    timeout_s: float = Field(default=10.0, gt=0, le=120)
    max_bytes: int = Field(default=2_000_000, ge=10_000)  # read at most this much of a page
    max_redirects: int = Field(default=5, ge=0, le=20)
    extra_pages: int = Field(default=3, ge=0, le=10)  # contact/about/impressum when needed
    robots: bool = True  # honour robots.txt
    user_agent: str = (
        f"socialcrm-discovery/{__version__} (+https://github.com/socialcrm/socialcrm; "
        "finds an organisation's public social profiles on its own website)"
    )
    chunk_size: int = Field(default=250, ge=1, le=10_000)
    # A worker renews its chunk's lease every third of it; a chunk whose lease ran out (its
    # worker died) is run again for its pending items, at most ``max_chunk_attempts`` times.
    lease_s: float = Field(default=60.0, ge=1, le=3600)
    max_chunk_attempts: int = Field(default=5, ge=1, le=100)
    # A chunk enqueued this long ago and never taken (its task was lost) is enqueued again.
    redispatch_s: float = Field(default=900.0, ge=10)
    job_rate_limit: str = "30/minute"  # job creations per tenant (limits' notation)
    ef_per_item: float = 0.00055


@lru_cache(maxsize=1)
def get_discovery_settings() -> DiscoverySettings:
    return DiscoverySettings()

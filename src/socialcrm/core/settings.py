"""One Settings object, read from ``SOCIALCRM_*`` environment variables."""

from __future__ import annotations

import ipaddress
import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from cryptography.fernet import Fernet
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    """Runtime configuration; defaults give an embedded single-machine install."""

    model_config = SettingsConfigDict(env_prefix="SOCIALCRM_", extra="ignore")

    data_dir: Path = Path("./var")
    database_url: str = ""
    queue_url: str = ""
    secret_keys: Annotated[list[str], NoDecode] = Field(default_factory=list)
    sandbox_url: str = ""
    allow_private_fetch: Annotated[list[str], NoDecode] = Field(default_factory=list)
    base_url: str = "http://127.0.0.1:8000"
    log_format: str = "auto"  # auto | json | console
    # debug | info | warning | error; below debug the queue's periodic ticks, outbound HTTP
    # requests and migration steps stay off the console (core/logging.py CHATTY_LOGGERS).
    log_level: str = Field(default="info", pattern=r"(?i)^(debug|info|warning|error)$")
    queue_workers: int = 2
    immediate_queue: bool = False  # run tasks inline (tests of pure flows)
    token_refresh_margin_s: int = 300
    provider_timeout_s: float = 10.0
    # LinkedIn's monthly API version (YYYYMM or YYYYMM.RR); empty: the adapter's current
    # default. LinkedIn retires a version about a year after its release (HTTP 426).
    linkedin_version: str = Field(default="", pattern=r"^(\d{6}(\.\d{2})?)?$")
    # Whether TikTok has audited this install's app: unaudited apps may post only SELF_ONLY.
    tiktok_audited: bool = False
    # Pause between reads of a post the network is still processing (Instagram reels, TikTok).
    provider_poll_interval_s: float = Field(default=2.0, ge=0)
    # A publishing target, metrics read or webhook delivery a worker took is taken over after
    # this long without a renewal (the worker died: kill -9, power loss). Longer than any call.
    task_lease_s: float = Field(default=300.0, gt=0)
    # An API key that authenticated is trusted this long without a lookup: a key revoked (or
    # an account deactivated) by another process is refused after at most this (0: no cache).
    api_key_cache_s: float = 10.0
    # A browser login ends this long after it began, or after this long without a request.
    session_max_age_s: float = Field(default=8 * 3600.0, gt=0)
    session_idle_s: float = Field(default=2 * 3600.0, gt=0)
    # Failed logins: after this many within the window, more attempts on that account, or from
    # that address (an IPv6 /64), are refused with 429 until the oldest of them ages out.
    login_failures_per_account: int = Field(default=10, ge=1)
    login_failures_per_address: int = Field(default=30, ge=1)
    login_failure_window_s: float = Field(default=900.0, gt=0)
    # Notices older than this are no longer shown and are deleted daily (see core/notify.py).
    notification_max_age_days: int = Field(default=30, ge=1, le=3650)
    # Outages answer 503 instead of hanging: a database or Redis that refuses, or accepts and
    # then says nothing, is given up on after these (see core/db.py, core/queue.py).
    db_connect_timeout_s: int = Field(default=5, ge=2)  # libpq's minimum is 2
    db_statement_timeout_s: float = Field(default=30.0, gt=0)
    db_pool_timeout_s: float = Field(default=10.0, gt=0)
    redis_timeout_s: float = Field(default=3.0, gt=1)  # above the queue's 1 s blocking read
    # What a 503 ``upstream_unavailable`` asks the client to wait (``Retry-After``).
    outage_retry_after_s: int = Field(default=5, ge=1)

    @field_validator("secret_keys", "allow_private_fetch", mode="before")
    @classmethod
    def _split_comma_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("allow_private_fetch")
    @classmethod
    def _valid_cidrs(cls, value: list[str]) -> list[str]:
        for cidr in value:
            ipaddress.ip_network(cidr, strict=False)
        return value

    def resolved(self) -> Settings:
        """Fill the defaults that depend on DATA_DIR and create secret keys on first run."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir / 'socialcrm.db'}"
        if not self.queue_url:
            self.queue_url = f"sqlite:///{self.data_dir / 'queue.db'}"
        if not self.secret_keys:
            self.secret_keys = _load_or_create_keys(self.data_dir / "secret_keys")
        return self


def _load_or_create_keys(path: Path) -> list[str]:
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(Fernet.generate_key().decode() + "\n")
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def new_secret() -> str:
    return secrets.token_urlsafe(32)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings().resolved()

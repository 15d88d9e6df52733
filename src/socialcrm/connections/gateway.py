"""The one bridge from synchronous use cases to the asynchronous provider adapters."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from functools import lru_cache
from typing import TypeVar

import httpx

from socialcrm.core.http import safe_async_client
from socialcrm.core.settings import get_settings
from socialcrm.providers.base import Provider, TransientProviderError
from socialcrm.providers.registry import NetworkOptions, build_provider

T = TypeVar("T")

USER_AGENT = "socialcrm/0.1"


@lru_cache(maxsize=1)
def _tls_context() -> ssl.SSLContext:
    """Built once: loading the CA bundle costs ~100 ms, far more than a provider call."""
    return ssl.create_default_context()


def _client(instance_url: str) -> httpx.AsyncClient:
    settings = get_settings()
    if instance_url and not settings.sandbox_url:
        # A Mastodon instance is named by the user: fetch it SSRF-safely.
        return safe_async_client(
            allow_private=settings.allow_private_fetch, timeout=settings.provider_timeout_s
        )
    return httpx.AsyncClient(
        timeout=settings.provider_timeout_s,
        headers={"User-Agent": USER_AGENT},
        verify=_tls_context(),
    )


def network_options() -> NetworkOptions:
    settings = get_settings()
    defaults = NetworkOptions()
    return NetworkOptions(
        linkedin_version=settings.linkedin_version or defaults.linkedin_version,
        tiktok_audited=settings.tiktok_audited,
        poll_interval_s=settings.provider_poll_interval_s,
    )


async def call_async(
    provider_name: str, action: Callable[[Provider], Awaitable[T]], *, instance_url: str = ""
) -> T:
    settings = get_settings()
    async with _client(instance_url) as http:
        provider = build_provider(
            provider_name,
            http,
            sandbox_url=settings.sandbox_url or None,
            instance_url=instance_url or None,
            options=network_options(),
        )
        try:
            return await action(provider)
        except httpx.TransportError as exc:  # adapters map these; this is the last net
            raise TransientProviderError(str(exc)) from exc


def call(
    provider_name: str, action: Callable[[Provider], Awaitable[T]], *, instance_url: str = ""
) -> T:
    """Run one provider interaction from synchronous code (request threads, queue workers)."""
    return asyncio.run(call_async(provider_name, action, instance_url=instance_url))

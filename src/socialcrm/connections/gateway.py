"""The one bridge from synchronous use cases to the asynchronous provider adapters: each call
runs on the provider runtime's event loop (``providers/runtime.py``) with the provider's pooled
client, so connections are reused across calls."""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable
from functools import lru_cache
from typing import TypeVar

import httpx

from socialcrm.core.http import safe_async_client
from socialcrm.core.settings import get_settings
from socialcrm.providers import runtime
from socialcrm.providers.adapter import NetworkOptions
from socialcrm.providers.base import Provider, TransientProviderError
from socialcrm.providers.registry import build_provider

T = TypeVar("T")

USER_AGENT = "socialcrm/0.1"
# A backstop over one interaction (each request has its own timeout; a publish may poll a
# network still processing a video): the caller is never held longer than this.
CALL_LIMIT_S = 600.0


@lru_cache(maxsize=1)
def _tls_context() -> ssl.SSLContext:
    """Built once: loading the CA bundle costs ~100 ms, far more than a provider call."""
    return ssl.create_default_context()


def _client(provider_name: str, instance_url: str) -> runtime.PooledClient:
    """The provider's pooled client; for a host the user named (a Mastodon instance), the
    SSRF-safe one."""
    settings = get_settings()
    timeout, allow = settings.provider_timeout_s, tuple(settings.allow_private_fetch)
    if instance_url and not settings.sandbox_url:
        return runtime.client(
            ("provider-safe", provider_name, timeout, allow),
            lambda: safe_async_client(allow_private=allow, timeout=timeout),
        )
    return runtime.client(
        ("provider", provider_name, timeout),
        lambda: httpx.AsyncClient(
            timeout=timeout, headers={"User-Agent": USER_AGENT}, verify=_tls_context()
        ),
    )


def network_options() -> NetworkOptions:
    settings = get_settings()
    return NetworkOptions(
        linkedin_version=settings.linkedin_version,
        tiktok_audited=settings.tiktok_audited,
        poll_interval_s=settings.provider_poll_interval_s,
    )


async def call_async(
    provider_name: str, action: Callable[[Provider], Awaitable[T]], *, instance_url: str = ""
) -> T:
    settings = get_settings()
    async with _client(provider_name, instance_url) as http:
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
    try:
        return runtime.run(
            call_async(provider_name, action, instance_url=instance_url), timeout=CALL_LIMIT_S
        )
    except TimeoutError as exc:
        raise TransientProviderError(f"{provider_name}: no answer in {CALL_LIMIT_S:.0f} s") from exc

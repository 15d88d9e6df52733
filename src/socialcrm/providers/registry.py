"""Which networks we speak, what each can do, and how to build an adapter for one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import httpx

from socialcrm.providers.base import Capability, Provider
from socialcrm.providers.bluesky import REAL_APPVIEW_URL, REAL_PDS_URL, BlueskyProvider
from socialcrm.providers.mastodon import MastodonProvider
from socialcrm.providers.x import REAL_API_URL, REAL_AUTH_URL, XProvider


class UnknownProvider(LookupError):
    """No adapter for that network name."""


class MissingInstance(ValueError):
    """Mastodon needs the user's instance URL outside the sandbox."""


@dataclass(frozen=True, slots=True)
class ProviderInfo:
    name: str
    display_name: str
    capabilities: frozenset[Capability]
    sandbox_prefix: str
    dynamic_registration: bool  # registers its own OAuth app per instance (Mastodon)


PROVIDERS: Mapping[str, ProviderInfo] = MappingProxyType(
    {
        cls.name: ProviderInfo(cls.name, cls.display_name, cls.capabilities, prefix, dynamic)
        for cls, prefix, dynamic in (
            (XProvider, "/x", False),
            (MastodonProvider, "/mastodon", True),
            (BlueskyProvider, "/bsky", False),
        )
    }
)


def provider_names() -> tuple[str, ...]:
    return tuple(PROVIDERS)


def provider_info(name: str) -> ProviderInfo:
    try:
        return PROVIDERS[name]
    except KeyError:
        known = ", ".join(PROVIDERS)
        raise UnknownProvider(f"unknown provider {name!r} (known: {known})") from None


def build_provider(
    name: str,
    http: httpx.AsyncClient,
    *,
    sandbox_url: str | None,
    instance_url: str | None = None,
) -> Provider:
    """An adapter talking to ``sandbox_url + prefix`` when set, else to the real network."""
    info = provider_info(name)
    if sandbox_url is not None:
        base = sandbox_url.rstrip("/") + info.sandbox_prefix
        real_x = (base, base)
        real_bluesky: tuple[str, str | None] = (base, None)
        instance = base
    else:
        real_x = (REAL_API_URL, REAL_AUTH_URL)
        real_bluesky = (REAL_PDS_URL, REAL_APPVIEW_URL)
        instance = ""
    if name == XProvider.name:
        return XProvider(http, real_x[0], auth_base_url=real_x[1])
    if name == BlueskyProvider.name:
        return BlueskyProvider(http, real_bluesky[0], appview_url=real_bluesky[1])
    return MastodonProvider(http, instance or instance_origin(instance_url))


def instance_origin(instance_url: str | None) -> str:
    """``mastodon.social`` or ``https://mastodon.social/`` → ``https://mastodon.social``."""
    if not instance_url or not instance_url.strip():
        raise MissingInstance("Mastodon needs instance_url (e.g. https://mastodon.social)")
    value = instance_url.strip().rstrip("/")
    return value if "://" in value else f"https://{value}"

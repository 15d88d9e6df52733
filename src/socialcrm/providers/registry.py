"""Which networks we speak, what each can do, and how to build an adapter for one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import httpx

from socialcrm.providers.adapter import AdapterBase, NetworkOptions
from socialcrm.providers.base import Capability, Provider
from socialcrm.providers.bluesky import BlueskyProvider
from socialcrm.providers.linkedin import LinkedInProvider
from socialcrm.providers.mastodon import MastodonProvider
from socialcrm.providers.meta import FacebookProvider, InstagramProvider
from socialcrm.providers.text import DEFAULT_RULE, TextRule
from socialcrm.providers.tiktok import TikTokProvider
from socialcrm.providers.x import XProvider
from socialcrm.providers.youtube import YouTubeProvider

# The networks we speak, in the order they are shown. Each adapter class carries its rules.
ADAPTERS: tuple[type[AdapterBase], ...] = (
    XProvider,
    MastodonProvider,
    BlueskyProvider,
    LinkedInProvider,
    FacebookProvider,
    InstagramProvider,
    YouTubeProvider,
    TikTokProvider,
)


class UnknownProvider(LookupError):
    """No adapter for that network name."""


@dataclass(frozen=True, slots=True)
class ProviderInfo:
    name: str
    display_name: str
    capabilities: frozenset[Capability]
    sandbox_prefix: str
    dynamic_registration: bool  # registers its own OAuth app per instance (Mastodon)
    # What a capability covers where the network allows only part of it ("Pages only").
    notes: Mapping[Capability, str] = field(default_factory=lambda: MappingProxyType({}))
    # What the network demands before it allows a capability (App Review, an audit, a paid
    # tier, an admin role): declared by the adapter, shown in the README and on Connect.
    requires: Mapping[Capability, str] = field(default_factory=lambda: MappingProxyType({}))
    # How connecting proves the client: "S256" PKCE, "hex" (TikTok's), None (client secret).
    pkce: str | None = "S256"
    # Connecting ends with the person picking among the accounts they manage (Facebook Pages).
    picks_accounts: bool = False
    # What a person may add when connecting (``email_lookup`` on Mastodon): see OAuthEndpoints.
    optional_permissions: tuple[str, ...] = ()
    one_profile_per_person: bool = False  # the adapter's rule: a Contact links one profile
    text_rule: TextRule = DEFAULT_RULE  # how long a post and a direct message may be
    aliases: tuple[str, ...] = ()  # other names the network goes by ("twitter")


PROVIDERS: Mapping[str, ProviderInfo] = MappingProxyType(
    {
        cls.name: ProviderInfo(
            cls.name,
            cls.display_name,
            cls.capabilities,
            cls.sandbox_prefix,
            cls.dynamic_registration,
            MappingProxyType(dict(getattr(cls, "capability_notes", {}))),
            MappingProxyType(dict(getattr(cls, "capability_requires", {}))),
            getattr(cls, "pkce", None),
            getattr(cls, "picks_managed_accounts", False),
            tuple(getattr(cls, "optional_scopes", {})),
            cls.one_profile_per_person,
            cls.text_rule,
            cls.aliases,
        )
        for cls in ADAPTERS
    }
)
_CLASSES: Mapping[str, type[AdapterBase]] = MappingProxyType({c.name: c for c in ADAPTERS})
# Every other name a network goes by → its name (the adapters' ``aliases``).
ALIASES: Mapping[str, str] = MappingProxyType(
    {alias: cls.name for cls in ADAPTERS for alias in cls.aliases}
)


def provider_names() -> tuple[str, ...]:
    return tuple(PROVIDERS)


def provider_info(name: str) -> ProviderInfo:
    try:
        return PROVIDERS[name]
    except KeyError:
        known = ", ".join(PROVIDERS)
        raise UnknownProvider(f"unknown provider {name!r} (known: {known})") from None


def adapter_class(name: str) -> type[AdapterBase]:
    """The adapter class of the network ``name`` (its rules are class attributes)."""
    provider_info(name)  # UnknownProvider, naming the known ones
    return _CLASSES[name]


def text_rule(name: str) -> TextRule:
    """How the network measures a post's text (a default for a name no adapter has)."""
    info = PROVIDERS.get(name)
    return info.text_rule if info is not None else DEFAULT_RULE


def network_named(name: str) -> str | None:
    """The network a name or alias stands for (``twitter`` → ``x``), or None."""
    return name if name in PROVIDERS else ALIASES.get(name)


def build_provider(
    name: str,
    http: httpx.AsyncClient,
    *,
    sandbox_url: str | None,
    instance_url: str | None = None,
    options: NetworkOptions | None = None,
) -> Provider:
    """An adapter talking to ``sandbox_url + prefix`` when set, else to the real network."""
    cls = adapter_class(name)
    base = sandbox_url.rstrip("/") + cls.sandbox_prefix if sandbox_url is not None else None
    return cls.build(http, base, instance_url=instance_url, options=options or NetworkOptions())

"""Which networks we speak, what each can do, and how to build an adapter for one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import httpx

from socialcrm.providers import linkedin, meta, tiktok, youtube
from socialcrm.providers.base import Capability, Provider
from socialcrm.providers.bluesky import REAL_APPVIEW_URL, REAL_PDS_URL, BlueskyProvider
from socialcrm.providers.linkedin import LinkedInProvider
from socialcrm.providers.mastodon import MastodonProvider
from socialcrm.providers.meta import FacebookProvider, InstagramProvider
from socialcrm.providers.tiktok import TikTokProvider
from socialcrm.providers.x import REAL_API_URL, REAL_AUTH_URL, XProvider
from socialcrm.providers.youtube import YouTubeProvider

SANDBOX_MASTODON_HOST = "mastodon.social"


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


@dataclass(frozen=True, slots=True)
class NetworkOptions:
    """Operator settings an adapter needs (from ``Settings``; defaults for tests and tools)."""

    linkedin_version: str = linkedin.DEFAULT_VERSION
    tiktok_audited: bool = False  # TikTok lets an unaudited app post only SELF_ONLY
    poll_interval_s: float = 2.0  # between reads of a post still being processed


PROVIDERS: Mapping[str, ProviderInfo] = MappingProxyType(
    {
        cls.name: ProviderInfo(
            cls.name,
            cls.display_name,
            cls.capabilities,
            prefix,
            dynamic,
            MappingProxyType(dict(getattr(cls, "capability_notes", {}))),
            MappingProxyType(dict(getattr(cls, "capability_requires", {}))),
            getattr(cls, "pkce", None),
            getattr(cls, "picks_managed_accounts", False),
            tuple(getattr(cls, "optional_scopes", {})),
            cls.one_profile_per_person,
        )
        for cls, prefix, dynamic in (
            (XProvider, "/x", False),
            (MastodonProvider, "/mastodon", True),
            (BlueskyProvider, "/bsky", False),
            (LinkedInProvider, "/linkedin", False),
            (FacebookProvider, "/facebook", False),
            (InstagramProvider, "/instagram", False),
            (YouTubeProvider, "/youtube", False),
            (TikTokProvider, "/tiktok", False),
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
    options: NetworkOptions | None = None,
) -> Provider:
    """An adapter talking to ``sandbox_url + prefix`` when set, else to the real network."""
    info = provider_info(name)
    options = options or NetworkOptions()
    base = sandbox_url.rstrip("/") + info.sandbox_prefix if sandbox_url is not None else None
    if name == XProvider.name:
        return XProvider(http, base or REAL_API_URL, auth_base_url=base or REAL_AUTH_URL)
    if name == BlueskyProvider.name:
        if base is not None:  # the sandbox is PDS, AppView and PLC directory in one
            root = base.removesuffix(info.sandbox_prefix)
            return BlueskyProvider(http, instance_url or base, plc_url=f"{root}/plc")
        return BlueskyProvider(http, instance_url or REAL_PDS_URL, appview_url=REAL_APPVIEW_URL)
    if name == MastodonProvider.name:
        if base is not None:  # the sandbox plays the default instance, mastodon.social
            return MastodonProvider(http, base, instance_host=SANDBOX_MASTODON_HOST)
        return MastodonProvider(http, instance_origin(instance_url))
    return _build_rest_provider(name, http, base, options)


def _build_rest_provider(
    name: str, http: httpx.AsyncClient, base: str | None, options: NetworkOptions
) -> Provider:
    """The networks with fixed hosts: in the sandbox every host is its one prefix."""
    if name == LinkedInProvider.name:
        return LinkedInProvider(
            http,
            base or linkedin.REAL_API_URL,
            auth_base_url=base or linkedin.REAL_AUTH_URL,
            version=options.linkedin_version,
        )
    if name == FacebookProvider.name:
        return FacebookProvider(
            http,
            base or meta.REAL_FACEBOOK_GRAPH_URL,
            auth_url=base or meta.REAL_FACEBOOK_DIALOG_URL,
            token_url=base or meta.REAL_FACEBOOK_GRAPH_URL,
        )
    if name == InstagramProvider.name:
        return InstagramProvider(
            http,
            base or meta.REAL_INSTAGRAM_GRAPH_URL,
            auth_url=base or meta.REAL_INSTAGRAM_AUTH_URL,
            token_url=base or meta.REAL_INSTAGRAM_TOKEN_URL,
            poll_interval_s=options.poll_interval_s,
        )
    if name == YouTubeProvider.name:
        return YouTubeProvider(
            http,
            base or youtube.REAL_API_URL,
            auth_url=base or youtube.REAL_AUTH_URL,
            token_url=base or youtube.REAL_TOKEN_URL,
        )
    return TikTokProvider(
        http,
        base or tiktok.REAL_API_URL,
        auth_base_url=base or tiktok.REAL_AUTH_URL,
        audited=options.tiktok_audited,
        poll_interval_s=options.poll_interval_s,
    )


def instance_origin(instance_url: str | None) -> str:
    """``mastodon.social`` or ``https://mastodon.social/`` → ``https://mastodon.social``."""
    if not instance_url or not instance_url.strip():
        raise MissingInstance("Mastodon needs instance_url (e.g. https://mastodon.social)")
    value = instance_url.strip().rstrip("/")
    return value if "://" in value else f"https://{value}"

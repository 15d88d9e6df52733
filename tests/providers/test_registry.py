from __future__ import annotations

import httpx
import pytest

from socialcrm.providers.base import Capability, Provider
from socialcrm.providers.bluesky import BlueskyProvider
from socialcrm.providers.mastodon import MastodonProvider, MissingInstance
from socialcrm.providers.registry import (
    PROVIDERS,
    UnknownProvider,
    build_provider,
    provider_names,
)
from socialcrm.providers.x import XProvider

pytestmark = pytest.mark.anyio


def test_provider_names() -> None:
    assert provider_names() == (
        "x",
        "mastodon",
        "bluesky",
        "linkedin",
        "facebook",
        "instagram",
        "youtube",
        "tiktok",
    )


@pytest.mark.parametrize(
    ("name", "display", "prefix", "cls"),
    [
        ("x", "X", "/x", XProvider),
        ("mastodon", "Mastodon", "/mastodon", MastodonProvider),
        ("bluesky", "Bluesky", "/bsky", BlueskyProvider),
    ],
)
def test_metadata(name: str, display: str, prefix: str, cls: type) -> None:
    info = PROVIDERS[name]
    assert (info.name, info.display_name, info.sandbox_prefix) == (name, display, prefix)
    assert info.capabilities == cls.capabilities


def test_only_mastodon_looks_up_by_email() -> None:
    assert [n for n, i in PROVIDERS.items() if Capability.LOOKUP_BY_EMAIL in i.capabilities] == [
        "mastodon"
    ]


async def test_sandbox_urls() -> None:
    async with httpx.AsyncClient() as http:
        x = build_provider("x", http, sandbox_url="http://127.0.0.1:9/")
        masto = build_provider("mastodon", http, sandbox_url="http://127.0.0.1:9")
        bsky = build_provider("bluesky", http, sandbox_url="http://127.0.0.1:9")
        assert all(isinstance(p, Provider) for p in (x, masto, bsky))
        assert x.oauth_endpoints().authorize_url == "http://127.0.0.1:9/x/i/oauth2/authorize"
        assert x.oauth_endpoints().token_url == "http://127.0.0.1:9/x/2/oauth2/token"
        assert masto.oauth_endpoints().token_url == "http://127.0.0.1:9/mastodon/oauth/token"
        assert isinstance(bsky, BlueskyProvider)


async def test_real_urls() -> None:
    async with httpx.AsyncClient() as http:
        x = build_provider("x", http, sandbox_url=None)
        assert x.oauth_endpoints().authorize_url == "https://x.com/i/oauth2/authorize"
        assert x.oauth_endpoints().token_url == "https://api.x.com/2/oauth2/token"
        masto = build_provider("mastodon", http, sandbox_url=None, instance_url="mastodon.social/")
        assert masto.oauth_endpoints().authorize_url == "https://mastodon.social/oauth/authorize"


async def test_mastodon_needs_an_instance_outside_the_sandbox() -> None:
    async with httpx.AsyncClient() as http:
        with pytest.raises(MissingInstance):
            build_provider("mastodon", http, sandbox_url=None)


async def test_unknown_provider() -> None:
    async with httpx.AsyncClient() as http:
        with pytest.raises(UnknownProvider, match="myspace"):
            build_provider("myspace", http, sandbox_url=None)

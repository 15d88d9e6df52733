"""Mastodon adapter against captured payloads (fixtures/mastodon), one test per condition."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import time_machine

from socialcrm.providers.base import (
    AppCredentials,
    CallContext,
    Capability,
    NotSupported,
    PostData,
    ProfileGone,
    Provider,
    RateLimited,
    ReconnectRequired,
    TokenSet,
    TransientProviderError,
)
from socialcrm.providers.mastodon import MastodonProvider, acct_for_lookup
from socialcrm.providers.outcomes import RequestRejected, ScopeMissing, TokenExpired

from .fakes import Answer, FakeNetwork, fixture, form

pytestmark = pytest.mark.anyio

INSTANCE = "https://mastodon.example"
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
APP = AppCredentials("m-client", "m-secret")


@pytest.fixture(autouse=True)
def frozen_time() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def masto(http: httpx.AsyncClient) -> MastodonProvider:
    return MastodonProvider(http, INSTANCE + "/")


def ctx() -> CallContext:
    return CallContext(access_token="m-access-1", user_id="110001", handle="ada")


def ok(name: str, status: int = 200, **headers: str) -> Answer:
    return Answer(status, fixture(f"mastodon/{name}"), headers)


async def test_satisfies_the_provider_protocol(masto: MastodonProvider) -> None:
    assert isinstance(masto, Provider)


async def test_declares_its_capabilities_honestly(masto: MastodonProvider) -> None:
    assert masto.capabilities == {
        Capability.OAUTH,
        Capability.LOOKUP_BY_HANDLE,
        Capability.LOOKUP_BY_ID,
        Capability.LOOKUP_BY_EMAIL,
        Capability.SEARCH_PEOPLE,
        Capability.PROFILE,
        Capability.POSTS,
        Capability.MENTIONS,
        Capability.DM,
        Capability.REPLY,
        Capability.PUBLISH,
        Capability.METRICS,
        Capability.REVOKE,
    }
    assert not masto.supports(Capability.REFRESH)


async def test_lookup_handle_parses_the_account(masto: MastodonProvider, net: FakeNetwork) -> None:
    net.on("GET", "/api/v1/accounts/lookup", ok("account"))
    profile = await masto.lookup_handle(ctx(), "@ada")
    assert profile.user_id == "110001"
    assert profile.handle == "ada"
    assert profile.display_name == "Ada Lovelace"
    assert profile.bio == "Poet of science & first programmer.\n\nNotes on the #engine"
    assert profile.links == ("https://ada.example.com",)
    assert profile.profile_url == "https://mastodon.example/@ada"
    assert (profile.followers, profile.following, profile.post_count) == (1200, 87, 42)
    assert profile.avatar_url.endswith("ada.png")
    assert net.requests[0].url.params["acct"] == "ada"


@pytest.mark.parametrize(
    ("handle", "acct"),
    [
        ("ada", "ada"),
        ("@Ada", "ada"),
        ("ada@mastodon.example", "ada"),
        ("@ada@Mastodon.Example", "ada"),
        ("grace@other.example", "grace@other.example"),
        ("https://mastodon.example/@ada", "ada"),
        ("https://other.example/@grace", "grace@other.example"),
    ],
)
def test_acct_for_lookup(handle: str, acct: str) -> None:
    assert acct_for_lookup(handle, "mastodon.example") == acct


@pytest.mark.parametrize("handle", ["a-da", "https://mastodon.example/@ada/1234", "a/b"])
def test_bad_handles_are_profile_gone(handle: str) -> None:
    with pytest.raises(ProfileGone):
        acct_for_lookup(handle, "mastodon.example")


async def test_unknown_handle_is_profile_gone(masto: MastodonProvider, net: FakeNetwork) -> None:
    net.on("GET", "/api/v1/accounts/lookup", ok("not_found", 404))
    with pytest.raises(ProfileGone):
        await masto.lookup_handle(ctx(), "nobody")


async def test_lookup_user_id(masto: MastodonProvider, net: FakeNetwork) -> None:
    net.on("GET", "/api/v1/accounts/110001", ok("account"))
    assert (await masto.lookup_user_id(ctx(), "110001")).handle == "ada"


async def test_unknown_user_id_is_profile_gone(masto: MastodonProvider, net: FakeNetwork) -> None:
    net.on("GET", "/api/v1/accounts/999", ok("not_found", 404))
    with pytest.raises(ProfileGone):
        await masto.lookup_user_id(ctx(), "999")


async def test_me(masto: MastodonProvider, net: FakeNetwork) -> None:
    net.on("GET", "/api/v1/accounts/verify_credentials", ok("account"))
    assert (await masto.me(ctx())).user_id == "110001"


async def test_lookup_email(masto: MastodonProvider, net: FakeNetwork) -> None:
    net.on("GET", "/api/v2/admin/accounts", ok("admin_accounts"))
    profile = await masto.lookup_email(ctx(), "ada@example.com")
    assert profile is not None
    assert profile.email == "ada@example.com"
    assert profile.user_id == "110001"
    assert net.requests[0].url.params["email"] == "ada@example.com"
    assert net.requests[0].url.params["origin"] == "local"


async def test_lookup_email_ignores_prefix_matches(
    masto: MastodonProvider, net: FakeNetwork
) -> None:
    """Mastodon's email filter is ``ILIKE 'value%'``: a longer address is someone else."""
    net.on("GET", "/api/v2/admin/accounts", ok("admin_accounts"))
    assert await masto.lookup_email(ctx(), "ada@example.co") is None


async def test_lookup_email_without_match_is_none(
    masto: MastodonProvider, net: FakeNetwork
) -> None:
    net.on("GET", "/api/v2/admin/accounts", Answer(200, []))
    assert await masto.lookup_email(ctx(), "nobody@example.com") is None


async def test_lookup_email_without_admin_scope_is_scope_missing(
    masto: MastodonProvider, net: FakeNetwork
) -> None:
    net.on("GET", "/api/v2/admin/accounts", ok("forbidden", 403))
    with pytest.raises(ScopeMissing, match=r"admin:read:accounts") as caught:
        await masto.lookup_email(ctx(), "ada@example.com")
    assert isinstance(caught.value, NotSupported)
    assert caught.value.scope == "admin:read:accounts"


async def test_search_people(masto: MastodonProvider, net: FakeNetwork) -> None:
    net.on("GET", "/api/v2/search", ok("search"))
    people = await masto.search_people(ctx(), "a", limit=5)
    assert [p.handle for p in people] == ["ada", "grace@other.example"]
    params = net.requests[0].url.params
    assert (params["q"], params["type"], params["limit"]) == ("a", "accounts", "5")


async def test_posts(masto: MastodonProvider, net: FakeNetwork) -> None:
    net.on("GET", "/api/v1/accounts/110001/statuses", ok("statuses"))
    posts = await masto.posts(ctx(), "110001")
    assert [p.id for p in posts] == ["113002", "113001"]
    assert posts[0].text == "second\nline two"
    assert posts[1].text == "hello @grace"
    assert posts[1].url == "https://mastodon.example/@ada/113001"
    assert (posts[0].replies, posts[0].reposts, posts[0].likes) == (1, 2, 3)


async def test_posts_of_a_removed_account_is_profile_gone(
    masto: MastodonProvider, net: FakeNetwork
) -> None:
    net.on("GET", "/api/v1/accounts/110001/statuses", ok("not_found", 404))
    with pytest.raises(ProfileGone):
        await masto.posts(ctx(), "110001")


async def test_mentions_oldest_first_with_notification_cursor(
    masto: MastodonProvider, net: FakeNetwork
) -> None:
    net.on("GET", "/api/v1/notifications", ok("notifications"))
    page = await masto.mentions(ctx(), "300")
    assert [p.id for p in page.posts] == ["113400", "113410"]
    assert [p.text for p in page.posts] == ["@ada older", "@ada newest"]
    assert page.posts[0].author_handle == "grace@other.example"
    assert page.cursor == "320"
    params = net.requests[0].url.params
    assert params.get_list("types[]") == ["mention"]
    assert params["since_id"] == "300"


async def test_full_mention_pages_continue_below_the_oldest(
    masto: MastodonProvider, net: FakeNetwork
) -> None:
    base = fixture("mastodon/notifications")[0]
    full = [{**base, "id": str(1000 - i)} for i in range(40)]  # 1000..961
    rest = [{**base, "id": "950"}]
    net.on("GET", "/api/v1/notifications", Answer(200, full), Answer(200, rest))
    page = await masto.mentions(ctx(), "900")
    assert len(page.posts) == 41
    assert page.cursor == "1000"
    second = net.requests[1].url.params
    assert (second["max_id"], second["since_id"]) == ("961", "900")


async def test_no_new_mentions_keeps_the_cursor(masto: MastodonProvider, net: FakeNetwork) -> None:
    net.on("GET", "/api/v1/notifications", Answer(200, []))
    page = await masto.mentions(ctx(), "320")
    assert (page.posts, page.cursor) == ([], "320")


async def test_metrics(masto: MastodonProvider, net: FakeNetwork) -> None:
    net.on("GET", "/api/v1/statuses/113001", ok("status"))
    post = await masto.metrics(ctx(), "113001")
    assert (post.replies, post.reposts, post.likes) == (4, 5, 6)


async def test_publish(masto: MastodonProvider, net: FakeNetwork) -> None:
    net.on("POST", "/api/v1/statuses", ok("status_created"))
    post = await masto.publish(ctx(), "hello")
    assert post.id == "113500"
    assert json.loads(net.requests[0].read()) == {"status": "hello", "visibility": "public"}


async def test_reply_mentions_the_author(masto: MastodonProvider, net: FakeNetwork) -> None:
    net.on("POST", "/api/v1/statuses", ok("status_created"))
    parent = PostData("mastodon", "113400", "110002", "grace@other.example", "@ada older", None)
    post = await masto.reply(ctx(), parent, "thanks!")
    assert post.in_reply_to_id == "113400"
    assert json.loads(net.requests[0].read()) == {
        "status": "@grace@other.example thanks!",
        "in_reply_to_id": "113400",
    }


async def test_send_dm_is_a_direct_status(masto: MastodonProvider, net: FakeNetwork) -> None:
    grace = {**fixture("mastodon/account"), "id": "110002", "acct": "grace@other.example"}
    net.on("GET", "/api/v1/accounts/110002", Answer(200, grace))
    net.on("POST", "/api/v1/statuses", ok("dm_created"))
    assert await masto.send_dm(ctx(), "110002", "hi") == "113600"
    assert json.loads(net.calls("POST", "/api/v1/statuses")[0].read()) == {
        "status": "@grace@other.example hi",
        "visibility": "direct",
    }


async def test_429_is_rate_limited_until_the_iso_reset(
    masto: MastodonProvider, net: FakeNetwork
) -> None:
    headers = {
        "X-RateLimit-Limit": "300",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": "2026-01-02T03:09:05.000Z",
    }
    net.on("GET", "/api/v1/accounts/lookup", ok("too_many_requests", 429, **headers))
    with pytest.raises(RateLimited) as caught:
        await masto.lookup_handle(ctx(), "ada")
    assert caught.value.retry_at == NOW + timedelta(minutes=5)


async def test_every_answer_records_the_budget(masto: MastodonProvider, net: FakeNetwork) -> None:
    headers = {
        "X-RateLimit-Limit": "300",
        "X-RateLimit-Remaining": "299",
        "X-RateLimit-Reset": "2026-01-02T03:09:05.000Z",
    }
    net.on("GET", "/api/v1/accounts/lookup", ok("account", **headers))
    context = ctx()
    await masto.lookup_handle(context, "ada")
    assert (context.budget.limit, context.budget.remaining) == (300, 299)


async def test_401_is_reconnect_required_not_refreshable(
    masto: MastodonProvider, net: FakeNetwork
) -> None:
    net.on("GET", "/api/v1/accounts/verify_credentials", ok("unauthorized", 401))
    with pytest.raises(ReconnectRequired) as caught:
        await masto.me(ctx())
    assert not isinstance(caught.value, TokenExpired)


@pytest.mark.parametrize(
    "answer",
    [Answer(500, {"error": "boom"}), Answer(503, None), Answer(error=httpx.ConnectTimeout("t"))],
)
async def test_outages_are_transient(
    masto: MastodonProvider, net: FakeNetwork, answer: Answer
) -> None:
    net.on("GET", "/api/v1/accounts/verify_credentials", answer)
    with pytest.raises(TransientProviderError):
        await masto.me(ctx())


async def test_422_is_request_rejected(masto: MastodonProvider, net: FakeNetwork) -> None:
    net.on(
        "POST", "/api/v1/statuses", Answer(422, {"error": "Validation failed: Text can't be blank"})
    )
    with pytest.raises(RequestRejected, match="Text can't be blank"):
        await masto.publish(ctx(), "")


# --- connecting ---------------------------------------------------------------------------------


async def test_register_app(masto: MastodonProvider, net: FakeNetwork) -> None:
    net.on("POST", "/api/v1/apps", ok("app"))
    app = await masto.register_app(
        "http://127.0.0.1:8000/oauth/callback/mastodon", ("read", "write")
    )
    assert app == AppCredentials("m-client", "m-secret")
    assert json.loads(net.requests[0].read()) == {
        "client_name": "socialcrm",
        "redirect_uris": "http://127.0.0.1:8000/oauth/callback/mastodon",
        "scopes": "read write admin:read:accounts",  # so an admin may add email lookup
    }


async def test_oauth_endpoints(masto: MastodonProvider) -> None:
    endpoints = masto.oauth_endpoints()
    assert endpoints.authorize_url == f"{INSTANCE}/oauth/authorize"
    assert endpoints.token_url == f"{INSTANCE}/oauth/token"
    assert endpoints.revoke_url == f"{INSTANCE}/oauth/revoke"
    assert endpoints.register_url == f"{INSTANCE}/api/v1/apps"


async def test_authorization_url(masto: MastodonProvider) -> None:
    url = masto.authorization_url(
        APP, redirect_uri="http://127.0.0.1/cb", state="s", code_verifier="v" * 50, scopes=("read",)
    )
    assert url.startswith(f"{INSTANCE}/oauth/authorize?")
    assert "code_challenge_method=S256" in url


async def test_exchange_code_gives_a_non_expiring_token(
    masto: MastodonProvider, net: FakeNetwork
) -> None:
    net.on("POST", "/oauth/token", ok("token"))
    tokens = await masto.exchange_code(
        APP, code="c", redirect_uri="http://127.0.0.1/cb", code_verifier="v" * 50
    )
    assert tokens == TokenSet("m-access-1", None, None, ("read", "write"))
    sent = form(net.requests[0])
    assert (sent["client_id"], sent["client_secret"], sent["code_verifier"]) == (
        "m-client",
        "m-secret",
        "v" * 50,
    )


async def test_bad_code_means_reconnect(masto: MastodonProvider, net: FakeNetwork) -> None:
    net.on("POST", "/oauth/token", ok("invalid_grant", 400))
    with pytest.raises(ReconnectRequired):
        await masto.exchange_code(
            APP, code="c", redirect_uri="http://127.0.0.1/cb", code_verifier="v" * 50
        )


async def test_token_429_is_rate_limited(masto: MastodonProvider, net: FakeNetwork) -> None:
    net.on("POST", "/oauth/token", ok("too_many_requests", 429, **{"Retry-After": "30"}))
    with pytest.raises(RateLimited) as caught:
        await masto.exchange_code(
            APP, code="c", redirect_uri="http://127.0.0.1/cb", code_verifier="v" * 50
        )
    assert caught.value.retry_at == NOW + timedelta(seconds=30)


async def test_refresh_is_not_supported(masto: MastodonProvider) -> None:
    with pytest.raises(NotSupported):
        await masto.refresh(APP, "anything")


async def test_revoke(masto: MastodonProvider, net: FakeNetwork) -> None:
    net.on("POST", "/oauth/revoke", Answer(200, {}))
    await masto.revoke(APP, TokenSet("m-access-1"))
    assert form(net.requests[0]) == {
        "token": "m-access-1",
        "token_type_hint": "access_token",
        "client_id": "m-client",
        "client_secret": "m-secret",
    }

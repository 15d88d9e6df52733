"""Bluesky adapter against captured payloads (fixtures/bluesky), one test per condition."""

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
from socialcrm.providers.bluesky import BlueskyProvider, jwt_expiry
from socialcrm.providers.outcomes import TokenExpired

from .fakes import Answer, FakeNetwork, fixture

pytestmark = pytest.mark.anyio

PDS = "https://pds.test"
APPVIEW = "https://appview.test"
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
ADA = "did:plc:ewvi7nxzyoun6zhxrhs64oiz"
GRACE = "did:plc:grace3xzyoun6zhxrhs64oiz"
APP = AppCredentials("")


@pytest.fixture(autouse=True)
def frozen_time() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def bsky(http: httpx.AsyncClient) -> BlueskyProvider:
    return BlueskyProvider(http, PDS)


def ctx() -> CallContext:
    return CallContext(access_token="bsky-access-1", user_id=ADA, handle="ada.bsky.social")


def ok(name: str, status: int = 200, **headers: str) -> Answer:
    return Answer(status, fixture(f"bluesky/{name}"), headers)


def xrpc(nsid: str) -> str:
    return f"/xrpc/{nsid}"


async def test_satisfies_the_provider_protocol(bsky: BlueskyProvider) -> None:
    assert isinstance(bsky, Provider)


async def test_declares_its_capabilities_honestly(bsky: BlueskyProvider) -> None:
    assert bsky.capabilities == {
        Capability.APP_PASSWORD,
        Capability.REFRESH,
        Capability.LOOKUP_BY_HANDLE,
        Capability.LOOKUP_BY_ID,
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
    assert not bsky.supports(Capability.OAUTH)
    assert not bsky.supports(Capability.LOOKUP_BY_EMAIL)


def did_document(pds: str) -> Answer:
    service = {"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": pds}
    return Answer(200, {"id": ADA, "service": [service]})


def resolvable(net: FakeNetwork, pds: str = PDS) -> None:
    net.on("GET", xrpc("com.atproto.identity.resolveHandle"), Answer(200, {"did": ADA}))
    net.on("GET", f"/{ADA}", did_document(pds))


async def test_login_with_app_password(bsky: BlueskyProvider, net: FakeNetwork) -> None:
    resolvable(net)
    net.on("POST", xrpc("com.atproto.server.createSession"), ok("session"))
    tokens = await bsky.login_with_app_password("@ada.bsky.social", "app-password")
    assert tokens.access_token.startswith("eyJ")
    assert tokens.refresh_token == "bsky-refresh-1"
    assert tokens.expires_at == datetime.fromtimestamp(1767326645, tz=UTC)  # the JWT's exp
    assert tokens.service_url == PDS
    login = net.calls("POST", xrpc("com.atproto.server.createSession"))[0]
    assert json.loads(login.read()) == {"identifier": "ada.bsky.social", "password": "app-password"}


async def test_login_goes_to_the_accounts_own_pds(
    http: httpx.AsyncClient, net: FakeNetwork
) -> None:
    """The handle resolves to a DID whose document names another PDS: log in there."""
    bsky = BlueskyProvider(http, "https://bsky.social", appview_url=APPVIEW)
    resolvable(net, "https://pds.example.org")
    net.on("POST", xrpc("com.atproto.server.createSession"), ok("session"))
    tokens = await bsky.login_with_app_password("ada.example.org", "app-password")
    login = net.calls("POST", xrpc("com.atproto.server.createSession"))[0]
    assert login.url.host == "pds.example.org"
    assert net.calls("GET", f"/{ADA}")[0].url.host == "plc.directory"
    assert tokens.service_url == "https://pds.example.org"


async def test_an_email_identifier_logs_in_at_the_entryway(
    bsky: BlueskyProvider, net: FakeNetwork
) -> None:
    net.on("POST", xrpc("com.atproto.server.createSession"), ok("session"))
    tokens = await bsky.login_with_app_password("ada@example.com", "app-password")
    assert tokens.service_url == PDS and len(net.requests) == 1


async def test_wrong_app_password_is_reconnect_required(
    bsky: BlueskyProvider, net: FakeNetwork
) -> None:
    resolvable(net)
    net.on("POST", xrpc("com.atproto.server.createSession"), ok("auth_required", 401))
    with pytest.raises(ReconnectRequired):
        await bsky.login_with_app_password("ada.bsky.social", "wrong")


async def test_refresh_uses_the_refresh_jwt_and_rotates(
    bsky: BlueskyProvider, net: FakeNetwork
) -> None:
    net.on("POST", xrpc("com.atproto.server.refreshSession"), ok("session_refreshed"))
    tokens = await bsky.refresh(APP, "bsky-refresh-1")
    assert tokens == TokenSet("opaque-access-2", "bsky-refresh-2", NOW + timedelta(hours=2))
    assert net.requests[0].headers["authorization"] == "Bearer bsky-refresh-1"


async def test_expired_refresh_token_means_reconnect(
    bsky: BlueskyProvider, net: FakeNetwork
) -> None:
    net.on("POST", xrpc("com.atproto.server.refreshSession"), ok("expired_token", 400))
    with pytest.raises(ReconnectRequired) as caught:
        await bsky.refresh(APP, "bsky-refresh-1")
    assert not isinstance(caught.value, TokenExpired)


async def test_empty_access_jwt_is_refused(bsky: BlueskyProvider, net: FakeNetwork) -> None:
    empty = {**fixture("bluesky/session_refreshed"), "accessJwt": ""}
    net.on("POST", xrpc("com.atproto.server.refreshSession"), Answer(200, empty))
    with pytest.raises(TransientProviderError, match="accessJwt"):
        await bsky.refresh(APP, "bsky-refresh-1")


async def test_revoke_deletes_the_session(bsky: BlueskyProvider, net: FakeNetwork) -> None:
    net.on("POST", xrpc("com.atproto.server.deleteSession"), Answer(200, None))
    await bsky.revoke(APP, TokenSet("a", "bsky-refresh-1"))
    assert net.requests[0].headers["authorization"] == "Bearer bsky-refresh-1"


async def test_revoking_a_dead_session_is_fine(bsky: BlueskyProvider, net: FakeNetwork) -> None:
    net.on("POST", xrpc("com.atproto.server.deleteSession"), ok("expired_token", 400))
    await bsky.revoke(APP, TokenSet("a", "bsky-refresh-1"))


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("opaque", NOW + timedelta(hours=2)),
        ("a.b.c", NOW + timedelta(hours=2)),
        (
            "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjE3NjczMzAwMDB9.sig",
            datetime.fromtimestamp(1767330000, tz=UTC),
        ),
    ],
)
def test_jwt_expiry(token: str, expected: datetime) -> None:
    assert jwt_expiry(token, NOW) == expected


async def test_oauth_is_not_supported(bsky: BlueskyProvider) -> None:
    with pytest.raises(NotSupported):
        bsky.oauth_endpoints()
    with pytest.raises(NotSupported):
        await bsky.exchange_code(APP, code="c", redirect_uri="r", code_verifier="v")
    with pytest.raises(NotSupported):
        await bsky.lookup_email(ctx(), "ada@example.com")


async def test_lookup_handle(bsky: BlueskyProvider, net: FakeNetwork) -> None:
    net.on("GET", xrpc("app.bsky.actor.getProfile"), ok("profile"))
    profile = await bsky.lookup_handle(ctx(), "@Ada.bsky.social")
    assert profile.user_id == ADA
    assert profile.handle == "ada.bsky.social"
    assert profile.display_name == "Ada Lovelace"
    assert (profile.followers, profile.following, profile.post_count) == (1200, 87, 42)
    assert profile.profile_url == "https://bsky.app/profile/ada.bsky.social"
    request = net.requests[0]
    assert request.url.params["actor"] == "ada.bsky.social"
    assert request.headers["authorization"] == "Bearer bsky-access-1"


@pytest.mark.parametrize("name", ["profile_not_found", "unresolvable"])
async def test_unknown_profile_is_profile_gone(
    bsky: BlueskyProvider, net: FakeNetwork, name: str
) -> None:
    net.on("GET", xrpc("app.bsky.actor.getProfile"), ok(name, 400))
    with pytest.raises(ProfileGone):
        await bsky.lookup_handle(ctx(), "nobody.bsky.social")


async def test_lookup_user_id_needs_a_did(bsky: BlueskyProvider, net: FakeNetwork) -> None:
    net.on("GET", xrpc("app.bsky.actor.getProfile"), ok("profile"))
    assert (await bsky.lookup_user_id(ctx(), ADA)).handle == "ada.bsky.social"
    with pytest.raises(ProfileGone):
        await bsky.lookup_user_id(ctx(), "1001")


async def test_me(bsky: BlueskyProvider, net: FakeNetwork) -> None:
    net.on("GET", xrpc("com.atproto.server.getSession"), ok("get_session"))
    net.on("GET", xrpc("app.bsky.actor.getProfile"), ok("profile"))
    assert (await bsky.me(ctx())).user_id == ADA
    assert net.calls("GET", xrpc("app.bsky.actor.getProfile"))[0].url.params["actor"] == ADA


async def test_public_appview_reads_go_without_a_token(
    http: httpx.AsyncClient, net: FakeNetwork
) -> None:
    net.on("GET", xrpc("app.bsky.actor.getProfile"), ok("profile"))
    bsky = BlueskyProvider(http, PDS, appview_url=APPVIEW)
    await bsky.lookup_handle(ctx(), "ada.bsky.social")
    request = net.requests[0]
    assert request.url.host == "appview.test"
    assert "authorization" not in request.headers


async def test_search_people(bsky: BlueskyProvider, net: FakeNetwork) -> None:
    net.on("GET", xrpc("app.bsky.actor.searchActors"), ok("search_actors"))
    people = await bsky.search_people(ctx(), "a", limit=1)
    assert [p.handle for p in people] == ["ada.bsky.social"]


async def test_posts_skip_reposts(bsky: BlueskyProvider, net: FakeNetwork) -> None:
    net.on("GET", xrpc("app.bsky.feed.getAuthorFeed"), ok("author_feed"))
    posts = await bsky.posts(ctx(), ADA)
    assert [p.text for p in posts] == ["second thought", "hello @grace.bsky.social"]
    first = posts[0]
    assert first.id == f"at://{ADA}/app.bsky.feed.post/3kb"
    assert first.ref == f"at://{ADA}/app.bsky.feed.post/3kb|bafy3kb"
    assert first.url == "https://bsky.app/profile/ada.bsky.social/post/3kb"
    assert (first.replies, first.reposts, first.likes) == (1, 2, 3)


async def test_mentions_stop_at_the_stored_cursor(bsky: BlueskyProvider, net: FakeNetwork) -> None:
    net.on(
        "GET",
        xrpc("app.bsky.notification.listNotifications"),
        ok("notifications_page1"),
        ok("notifications_page2"),
    )
    cursor = f"2026-01-02T03:05:00+00:00|at://{GRACE}/app.bsky.feed.post/3n2"
    page = await bsky.mentions(ctx(), cursor)
    assert [p.text for p in page.posts] == [
        "@ada.bsky.social older",
        "replying to you",
        "@ada.bsky.social newest",
    ]
    assert page.posts[1].in_reply_to_id == f"at://{ADA}/app.bsky.feed.post/3ka"
    assert page.cursor == f"2026-01-02T03:09:00+00:00|at://{GRACE}/app.bsky.feed.post/3n5"
    second = net.requests[1].url.params
    assert second["cursor"] == "page2"
    assert len(net.requests) == 2  # reached the stored cursor on page 2


async def test_mentions_again_with_the_new_cursor_are_empty(
    bsky: BlueskyProvider, net: FakeNetwork
) -> None:
    net.on("GET", xrpc("app.bsky.notification.listNotifications"), ok("notifications_page1"))
    cursor = f"2026-01-02T03:09:00+00:00|at://{GRACE}/app.bsky.feed.post/3n5"
    page = await bsky.mentions(ctx(), cursor)
    assert (page.posts, page.cursor) == ([], cursor)
    assert len(net.requests) == 1


async def test_metrics(bsky: BlueskyProvider, net: FakeNetwork) -> None:
    net.on("GET", xrpc("app.bsky.feed.getPosts"), ok("posts"))
    uri = f"at://{GRACE}/app.bsky.feed.post/3kc"
    post = await bsky.metrics(ctx(), uri)
    assert (post.replies, post.reposts, post.likes) == (4, 5, 6)
    assert net.requests[0].url.params.get_list("uris") == [uri]


async def test_metrics_of_a_deleted_post_is_profile_gone(
    bsky: BlueskyProvider, net: FakeNetwork
) -> None:
    net.on("GET", xrpc("app.bsky.feed.getPosts"), ok("posts_empty"))
    with pytest.raises(ProfileGone):
        await bsky.metrics(ctx(), f"at://{GRACE}/app.bsky.feed.post/gone")


async def test_publish_creates_a_post_record(bsky: BlueskyProvider, net: FakeNetwork) -> None:
    net.on("POST", xrpc("com.atproto.repo.createRecord"), ok("create_record"))
    post = await bsky.publish(ctx(), "hello")
    assert post.id == f"at://{ADA}/app.bsky.feed.post/3new"
    assert post.ref.endswith("|bafynew")
    assert json.loads(net.requests[0].read()) == {
        "repo": ADA,
        "collection": "app.bsky.feed.post",
        "record": {
            "$type": "app.bsky.feed.post",
            "text": "hello",
            "createdAt": "2026-01-02T03:04:05.000Z",
        },
    }


async def test_reply_keeps_the_thread_root(bsky: BlueskyProvider, net: FakeNetwork) -> None:
    net.on("GET", xrpc("app.bsky.feed.getPosts"), ok("posts"))
    net.on("POST", xrpc("com.atproto.repo.createRecord"), ok("create_record"))
    parent_uri = f"at://{GRACE}/app.bsky.feed.post/3kc"
    parent = PostData("bluesky", parent_uri, GRACE, "grace.bsky.social", "q", None)
    post = await bsky.reply(ctx(), parent, "I think so")
    assert post.in_reply_to_id == parent_uri
    record = json.loads(net.calls("POST", xrpc("com.atproto.repo.createRecord"))[0].read())[
        "record"
    ]
    assert record["reply"] == {
        "root": {"uri": f"at://{GRACE}/app.bsky.feed.post/3root", "cid": "bafyroot"},
        "parent": {"uri": parent_uri, "cid": "bafy3kc"},
    }


async def test_send_dm(bsky: BlueskyProvider, net: FakeNetwork) -> None:
    net.on("GET", xrpc("chat.bsky.convo.getConvoForMembers"), ok("convo"))
    net.on("POST", xrpc("chat.bsky.convo.sendMessage"), ok("message"))
    assert await bsky.send_dm(ctx(), GRACE, "hi Grace") == "msg-1"
    sent = net.calls("POST", xrpc("chat.bsky.convo.sendMessage"))[0]
    assert json.loads(sent.read()) == {"convoId": "convo-1", "message": {"text": "hi Grace"}}
    assert sent.headers["atproto-proxy"] == "did:web:api.bsky.chat#bsky_chat"


async def test_429_is_rate_limited_until_the_epoch_reset(
    bsky: BlueskyProvider, net: FakeNetwork
) -> None:
    reset = str(int((NOW + timedelta(minutes=5)).timestamp()))
    headers = {
        "RateLimit-Limit": "3000",
        "RateLimit-Remaining": "0",
        "RateLimit-Reset": reset,
        "RateLimit-Policy": "3000;w=300",
    }
    net.on("GET", xrpc("app.bsky.actor.getProfile"), ok("rate_limited", 429, **headers))
    with pytest.raises(RateLimited) as caught:
        await bsky.lookup_handle(ctx(), "ada.bsky.social")
    assert caught.value.retry_at == NOW + timedelta(minutes=5)


async def test_every_answer_records_the_budget(bsky: BlueskyProvider, net: FakeNetwork) -> None:
    reset = str(int((NOW + timedelta(minutes=5)).timestamp()))
    net.on(
        "GET",
        xrpc("app.bsky.actor.getProfile"),
        ok("profile", **{"RateLimit-Remaining": "5", "RateLimit-Reset": reset}),
    )
    context = ctx()
    await bsky.lookup_handle(context, "ada.bsky.social")
    assert (context.budget.remaining, context.budget.reset_at) == (5, NOW + timedelta(minutes=5))


async def test_expired_access_token_is_token_expired(
    bsky: BlueskyProvider, net: FakeNetwork
) -> None:
    net.on("GET", xrpc("app.bsky.actor.getProfile"), ok("expired_token", 400))
    with pytest.raises(TokenExpired):
        await bsky.lookup_handle(ctx(), "ada.bsky.social")


async def test_401_is_reconnect_required(bsky: BlueskyProvider, net: FakeNetwork) -> None:
    net.on("GET", xrpc("app.bsky.actor.getProfile"), ok("invalid_token", 401))
    with pytest.raises(ReconnectRequired):
        await bsky.lookup_handle(ctx(), "ada.bsky.social")


@pytest.mark.parametrize(
    "answer",
    [
        Answer(500, {"error": "InternalServerError"}),
        Answer(502, None),
        Answer(error=httpx.ReadTimeout("t")),
    ],
)
async def test_outages_are_transient(
    bsky: BlueskyProvider, net: FakeNetwork, answer: Answer
) -> None:
    net.on("GET", xrpc("app.bsky.actor.getProfile"), answer)
    with pytest.raises(TransientProviderError):
        await bsky.lookup_handle(ctx(), "ada.bsky.social")

"""X adapter against captured payloads (fixtures/x), one test per condition."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

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
from socialcrm.providers.outcomes import TokenExpired
from socialcrm.providers.x import XProvider

from .fakes import Answer, FakeNetwork, fixture, form

pytestmark = pytest.mark.anyio

BASE = "https://api.x.test"
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
APP = AppCredentials("x-client", "x-secret")
PUBLIC_APP = AppCredentials("x-public-client")
VERIFIER = "v" * 64


@pytest.fixture(autouse=True)
def frozen_time() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def x(http: httpx.AsyncClient) -> XProvider:
    return XProvider(http, BASE, auth_base_url="https://x.test")


def ctx() -> CallContext:
    return CallContext(access_token="x-access-1", user_id="1001", handle="Ada")


def ok(name: str, status: int = 200, **headers: str) -> Answer:
    return Answer(status, fixture(f"x/{name}"), headers)


async def test_satisfies_the_provider_protocol(x: XProvider) -> None:
    assert isinstance(x, Provider)


async def test_declares_its_capabilities_honestly(x: XProvider) -> None:
    assert x.capabilities == {
        Capability.OAUTH,
        Capability.REFRESH,
        Capability.LOOKUP_BY_HANDLE,
        Capability.LOOKUP_BY_ID,
        Capability.PROFILE,
        Capability.POSTS,
        Capability.MENTIONS,
        Capability.DM,
        Capability.REPLY,
        Capability.PUBLISH,
        Capability.METRICS,
        Capability.REVOKE,
    }
    assert not x.supports(Capability.LOOKUP_BY_EMAIL)
    assert not x.supports(Capability.SEARCH_PEOPLE)


async def test_lookup_handle_parses_the_user(x: XProvider, net: FakeNetwork) -> None:
    net.on("GET", "/2/users/by/username/ada", ok("user"))
    profile = await x.lookup_handle(ctx(), "@Ada")
    assert profile.user_id == "1001"
    assert profile.handle == "Ada"
    assert profile.display_name == "Ada"
    assert profile.bio.startswith("Poet of science")
    assert profile.followers == 1200
    assert profile.following == 87
    assert profile.post_count == 42
    assert profile.links == ("https://ada.example.com",)
    assert profile.location == "London"
    assert profile.profile_url == "https://x.com/ada"
    assert profile.created_at == datetime(2015, 1, 1, tzinfo=UTC)
    request = net.requests[0]
    assert request.headers["authorization"] == "Bearer x-access-1"
    assert "public_metrics" in request.url.params["user.fields"]


async def test_lookup_handle_accepts_a_profile_url(x: XProvider, net: FakeNetwork) -> None:
    net.on("GET", "/2/users/by/username/ada", ok("user"))
    assert (await x.lookup_handle(ctx(), "https://twitter.com/ada?s=20")).user_id == "1001"


async def test_unknown_handle_is_profile_gone(x: XProvider, net: FakeNetwork) -> None:
    net.on("GET", "/2/users/by/username/nobody_here", ok("user_not_found"))
    with pytest.raises(ProfileGone, match="Could not find user"):
        await x.lookup_handle(ctx(), "nobody_here")


async def test_invalid_handle_is_profile_gone_without_a_call(
    x: XProvider, net: FakeNetwork
) -> None:
    with pytest.raises(ProfileGone):
        await x.lookup_handle(ctx(), "../users/me")
    assert net.requests == []


async def test_lookup_user_id(x: XProvider, net: FakeNetwork) -> None:
    net.on("GET", "/2/users/1001", ok("user"))
    assert (await x.lookup_user_id(ctx(), "1001")).handle == "Ada"


async def test_unknown_user_id_is_profile_gone(x: XProvider, net: FakeNetwork) -> None:
    net.on("GET", "/2/users/999", ok("user_id_not_found"))
    with pytest.raises(ProfileGone):
        await x.lookup_user_id(ctx(), "999")


async def test_me(x: XProvider, net: FakeNetwork) -> None:
    net.on("GET", "/2/users/me", ok("user"))
    assert (await x.me(ctx())).user_id == "1001"


async def test_posts(x: XProvider, net: FakeNetwork) -> None:
    net.on("GET", "/2/users/1001/tweets", ok("tweets"))
    posts = await x.posts(ctx(), "1001", limit=2)
    assert [p.id for p in posts] == ["9003", "9002"]
    first = posts[0]
    assert first.author_handle == "Ada"
    assert first.url == "https://x.com/Ada/status/9003"
    assert (first.likes, first.reposts, first.replies, first.impressions) == (3, 1, 2, 100)
    assert net.requests[0].url.params["max_results"] == "5"  # X's minimum


async def test_mentions_page_until_done_oldest_first(x: XProvider, net: FakeNetwork) -> None:
    net.on("GET", "/2/users/1001/mentions", ok("mentions_page1"), ok("mentions_page2"))
    page = await x.mentions(ctx(), "9100")
    assert [p.id for p in page.posts] == ["9105", "9110", "9120"]
    assert page.cursor == "9120"
    assert [p.author_handle for p in page.posts] == ["grace", "babbage", "grace"]
    assert page.posts[1].in_reply_to_id == "9003"
    first, second = net.calls("GET", "/2/users/1001/mentions")
    assert first.url.params["since_id"] == "9100"
    assert "pagination_token" not in first.url.params
    assert second.url.params["pagination_token"] == "page2"


async def test_no_new_mentions_keeps_the_cursor(x: XProvider, net: FakeNetwork) -> None:
    net.on("GET", "/2/users/1001/mentions", ok("mentions_empty"))
    page = await x.mentions(ctx(), "9120")
    assert page.posts == []
    assert page.cursor == "9120"


async def test_mentions_learn_the_own_id_first(x: XProvider, net: FakeNetwork) -> None:
    net.on("GET", "/2/users/me", ok("user"))
    net.on("GET", "/2/users/1001/mentions", ok("mentions_empty"))
    context = CallContext(access_token="x-access-1")
    await x.mentions(context, None)
    assert context.user_id == "1001"


async def test_metrics(x: XProvider, net: FakeNetwork) -> None:
    net.on("GET", "/2/tweets/9001", ok("tweet"))
    post = await x.metrics(ctx(), "9001")
    assert (post.likes, post.reposts, post.replies, post.impressions) == (6, 4, 5, 789)


async def test_metrics_of_a_deleted_tweet_is_profile_gone(x: XProvider, net: FakeNetwork) -> None:
    net.on("GET", "/2/tweets/1234", ok("tweet_not_found"))
    with pytest.raises(ProfileGone):
        await x.metrics(ctx(), "1234")


async def test_publish(x: XProvider, net: FakeNetwork) -> None:
    net.on("POST", "/2/tweets", ok("tweet_created", 201))
    post = await x.publish(ctx(), "thanks!")
    assert post.id == "9500"
    assert post.author_user_id == "1001"
    assert post.created_at == NOW
    assert net.requests[0].read() == b'{"text":"thanks!"}'


async def test_reply(x: XProvider, net: FakeNetwork) -> None:
    net.on("POST", "/2/tweets", ok("tweet_created", 201))
    parent = PostData("x", "9120", "1002", "grace", "@ada newest", None)
    post = await x.reply(ctx(), parent, "thanks!")
    assert post.in_reply_to_id == "9120"
    sent = httpx.Response(200, content=net.requests[0].read()).json()
    assert sent == {"text": "thanks!", "reply": {"in_reply_to_tweet_id": "9120"}}


async def test_send_dm(x: XProvider, net: FakeNetwork) -> None:
    net.on("POST", "/2/dm_conversations/with/1002/messages", ok("dm_created", 201))
    assert await x.send_dm(ctx(), "1002", "hi") == "7700"


async def test_429_is_rate_limited_until_the_x_reset(x: XProvider, net: FakeNetwork) -> None:
    reset = int((NOW + timedelta(minutes=15)).timestamp())
    headers = {
        "x-rate-limit-limit": "900",
        "x-rate-limit-remaining": "0",
        "x-rate-limit-reset": str(reset),
    }
    net.on("GET", "/2/users/by/username/ada", ok("too_many_requests", 429, **headers))
    with pytest.raises(RateLimited) as caught:
        await x.lookup_handle(ctx(), "ada")
    assert caught.value.retry_at == NOW + timedelta(minutes=15)


async def test_429_without_reset_backs_off(x: XProvider, net: FakeNetwork) -> None:
    net.on("GET", "/2/users/by/username/ada", ok("too_many_requests", 429))
    with pytest.raises(RateLimited) as caught:
        await x.lookup_handle(ctx(), "ada")
    assert caught.value.retry_at == NOW + timedelta(seconds=60)


async def test_every_answer_records_the_budget(x: XProvider, net: FakeNetwork) -> None:
    reset = int((NOW + timedelta(minutes=15)).timestamp())
    headers = {
        "x-rate-limit-limit": "900",
        "x-rate-limit-remaining": "17",
        "x-rate-limit-reset": str(reset),
    }
    net.on("GET", "/2/users/by/username/ada", ok("user", **headers))
    context = ctx()
    await x.lookup_handle(context, "ada")
    assert context.budget.limit == 900
    assert context.budget.remaining == 17
    assert context.budget.reset_at == NOW + timedelta(minutes=15)


async def test_401_is_token_expired_a_reconnect_required(x: XProvider, net: FakeNetwork) -> None:
    net.on("GET", "/2/users/me", ok("unauthorized", 401))
    with pytest.raises(TokenExpired) as caught:
        await x.me(ctx())
    assert isinstance(caught.value, ReconnectRequired)


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_5xx_is_transient(x: XProvider, net: FakeNetwork, status: int) -> None:
    net.on("GET", "/2/users/me", Answer(status, {"title": "Service Unavailable"}))
    with pytest.raises(TransientProviderError):
        await x.me(ctx())


@pytest.mark.parametrize(
    "error",
    [httpx.ReadTimeout("slow"), httpx.ConnectError("refused"), httpx.RemoteProtocolError("eof")],
)
async def test_transport_failures_are_transient(
    x: XProvider, net: FakeNetwork, error: Exception
) -> None:
    net.on("GET", "/2/users/me", Answer(error=error))
    with pytest.raises(TransientProviderError):
        await x.me(ctx())


async def test_non_json_success_is_transient(x: XProvider, net: FakeNetwork) -> None:
    net.on_call("GET", "/2/users/me", lambda _r: Answer(200, "not an object"))
    with pytest.raises(TransientProviderError):
        await x.me(ctx())


@pytest.mark.parametrize("operation", ["lookup_email", "search_people"])
async def test_unsupported_operations_raise_not_supported(x: XProvider, operation: str) -> None:
    with pytest.raises(NotSupported):
        await getattr(x, operation)(ctx(), "ada@example.com")


async def test_app_passwords_and_registration_are_not_supported(x: XProvider) -> None:
    with pytest.raises(NotSupported):
        await x.login_with_app_password("ada", "pw")
    with pytest.raises(NotSupported):
        await x.register_app("http://127.0.0.1/cb", ("users.read",))


# --- OAuth ---


async def test_authorization_url_uses_pkce_s256(x: XProvider) -> None:
    url = x.authorization_url(
        APP,
        redirect_uri="http://127.0.0.1:8000/oauth/callback/x",
        state="st-1",
        code_verifier=VERIFIER,
        scopes=("users.read", "offline.access"),
    )
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://x.test/i/oauth2/authorize"
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    challenge = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=")
    assert query == {
        "response_type": "code",
        "client_id": "x-client",
        "redirect_uri": "http://127.0.0.1:8000/oauth/callback/x",
        "scope": "users.read offline.access",
        "state": "st-1",
        "code_challenge": challenge.decode(),
        "code_challenge_method": "S256",
    }


async def test_oauth_endpoints(x: XProvider) -> None:
    endpoints = x.oauth_endpoints()
    assert endpoints.token_url == f"{BASE}/2/oauth2/token"
    assert endpoints.revoke_url == f"{BASE}/2/oauth2/revoke"
    assert "offline.access" in endpoints.default_scopes


async def test_exchange_code(x: XProvider, net: FakeNetwork) -> None:
    net.on("POST", "/2/oauth2/token", ok("token"))
    tokens = await x.exchange_code(
        APP, code="code-1", redirect_uri="http://127.0.0.1/cb", code_verifier=VERIFIER
    )
    assert tokens == TokenSet(
        access_token="x-access-1",
        refresh_token="x-refresh-1",
        expires_at=NOW + timedelta(seconds=7200),
        scopes=("tweet.read", "users.read", "offline.access"),
    )
    request = net.requests[0]
    assert form(request) == {
        "grant_type": "authorization_code",
        "code": "code-1",
        "redirect_uri": "http://127.0.0.1/cb",
        "code_verifier": VERIFIER,
    }
    basic = base64.b64encode(b"x-client:x-secret").decode()
    assert request.headers["authorization"] == f"Basic {basic}"


async def test_public_client_sends_its_id_in_the_body(x: XProvider, net: FakeNetwork) -> None:
    net.on("POST", "/2/oauth2/token", ok("token"))
    await x.exchange_code(
        PUBLIC_APP, code="code-1", redirect_uri="http://127.0.0.1/cb", code_verifier=VERIFIER
    )
    request = net.requests[0]
    assert form(request)["client_id"] == "x-public-client"
    assert "authorization" not in request.headers


async def test_refresh_returns_the_new_refresh_token(x: XProvider, net: FakeNetwork) -> None:
    net.on("POST", "/2/oauth2/token", ok("token_refreshed"))
    tokens = await x.refresh(APP, "x-refresh-1")
    assert tokens.access_token == "x-access-2"
    assert tokens.refresh_token == "x-refresh-2"
    assert form(net.requests[0]) == {"grant_type": "refresh_token", "refresh_token": "x-refresh-1"}


async def test_dead_refresh_token_means_reconnect(x: XProvider, net: FakeNetwork) -> None:
    net.on("POST", "/2/oauth2/token", ok("invalid_grant", 400))
    with pytest.raises(ReconnectRequired, match="invalid_grant"):
        await x.refresh(APP, "x-refresh-1")


async def test_invalid_client_means_reconnect(x: XProvider, net: FakeNetwork) -> None:
    net.on("POST", "/2/oauth2/token", ok("invalid_client", 401))
    with pytest.raises(ReconnectRequired, match="invalid_client"):
        await x.exchange_code(
            APP, code="c", redirect_uri="http://127.0.0.1/cb", code_verifier=VERIFIER
        )


async def test_token_endpoint_429_is_rate_limited(x: XProvider, net: FakeNetwork) -> None:
    reset = str(int((NOW + timedelta(minutes=2)).timestamp()))
    net.on("POST", "/2/oauth2/token", ok("too_many_requests", 429, **{"x-rate-limit-reset": reset}))
    with pytest.raises(RateLimited) as caught:
        await x.refresh(APP, "x-refresh-1")
    assert caught.value.retry_at == NOW + timedelta(minutes=2)


@pytest.mark.parametrize(
    "answer",
    [
        Answer(503, {"title": "Service Unavailable"}),
        Answer(500, None),
        Answer(error=httpx.ReadTimeout("t")),
    ],
)
async def test_token_endpoint_outage_is_transient(
    x: XProvider, net: FakeNetwork, answer: Answer
) -> None:
    net.on("POST", "/2/oauth2/token", answer)
    with pytest.raises(TransientProviderError):
        await x.refresh(APP, "x-refresh-1")


async def test_empty_access_token_is_refused(x: XProvider, net: FakeNetwork) -> None:
    net.on("POST", "/2/oauth2/token", ok("token_empty"))
    with pytest.raises(TransientProviderError, match="access_token"):
        await x.exchange_code(
            APP, code="c", redirect_uri="http://127.0.0.1/cb", code_verifier=VERIFIER
        )


async def test_revoke_sends_the_refresh_token(x: XProvider, net: FakeNetwork) -> None:
    net.on("POST", "/2/oauth2/revoke", ok("revoked"))
    await x.revoke(APP, TokenSet("x-access-1", "x-refresh-1"))
    assert form(net.requests[0]) == {"token": "x-refresh-1", "token_type_hint": "refresh_token"}


async def test_sharing_the_transport_leaves_the_callers_client_open(
    x: XProvider, net: FakeNetwork, http: httpx.AsyncClient
) -> None:
    net.on("POST", "/2/oauth2/token", ok("token"))
    net.on("GET", "/2/users/me", ok("user"))
    await x.exchange_code(APP, code="c", redirect_uri="http://127.0.0.1/cb", code_verifier=VERIFIER)
    assert not http.is_closed
    assert (await x.me(ctx())).user_id == "1001"

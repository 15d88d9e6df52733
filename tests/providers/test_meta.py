"""Facebook Pages and Instagram adapters against documented Graph API payloads."""

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
    ProfileGone,
    RateLimited,
    ReconnectRequired,
    TokenSet,
    TransientProviderError,
)
from socialcrm.providers.meta import FacebookProvider, InstagramProvider
from socialcrm.providers.outcomes import RequestRejected

from .fakes import Answer, FakeNetwork, fixture, form

pytestmark = pytest.mark.anyio

GRAPH = "https://graph.facebook.test"
IG_GRAPH = "https://graph.instagram.test"
NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
PAGE = "20531316728"
IG_ME = "17841405822304914"


@pytest.fixture(autouse=True)
def frozen_time() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def fb(http: httpx.AsyncClient) -> FacebookProvider:
    return FacebookProvider(http, GRAPH, auth_url="https://www.facebook.test", token_url=GRAPH)


@pytest.fixture
def ig(http: httpx.AsyncClient) -> InstagramProvider:
    return InstagramProvider(http, IG_GRAPH, poll_interval_s=0)


def page_ctx() -> CallContext:
    return CallContext(access_token="page-token", user_id=PAGE, handle="facebookapp")


def ig_ctx() -> CallContext:
    return CallContext(access_token="ig-token", user_id=IG_ME, handle="jaypedro")


def fbx(name: str, status: int = 200, **headers: str) -> Answer:
    return Answer(status, fixture(f"facebook/{name}"), headers)


def igx(name: str, status: int = 200, **headers: str) -> Answer:
    return Answer(status, fixture(f"instagram/{name}"), headers)


def v(path: str) -> str:
    return f"/v26.0/{path}"


# --- Facebook -------------------------------------------------------------------------------


async def test_page_lookup_by_username(fb: FacebookProvider, net: FakeNetwork) -> None:
    net.on("GET", v("facebookapp"), fbx("page"))
    page = await fb.lookup_handle(page_ctx(), "https://www.facebook.com/facebookapp/")
    assert (page.user_id, page.handle, page.followers, page.headline) == (
        PAGE,
        "facebookapp",
        192016547,
        "App Page",
    )
    assert page.avatar_url.endswith("facebookapp.png") and page.links == (
        "http://www.facebook.com",
    )
    assert "fields" in net.calls("GET", v("facebookapp"))[0].url.params


@pytest.mark.parametrize(
    ("fixture_name", "status"), [("alias_not_found", 404), ("object_not_found", 400)]
)
async def test_missing_pages_are_gone(
    fb: FacebookProvider, net: FakeNetwork, fixture_name: str, status: int
) -> None:
    net.on("GET", v("nosuchpage"), fbx(fixture_name, status))
    net.on("GET", v("123"), fbx(fixture_name, status))
    with pytest.raises(ProfileGone):
        await fb.lookup_handle(page_ctx(), "nosuchpage")
    with pytest.raises(ProfileGone):
        await fb.lookup_user_id(page_ctx(), "123")


async def test_posts_with_summaries(fb: FacebookProvider, net: FakeNetwork) -> None:
    net.on("GET", v(f"{PAGE}/posts"), fbx("posts"))
    [post] = await fb.posts(page_ctx(), PAGE)
    assert (post.id, post.likes, post.replies, post.reposts) == (
        "20531316728_10158611807341729",
        152,
        31,
        12,
    )
    assert post.created_at == datetime(2019, 7, 16, 21, 18, 35, tzinfo=UTC)


async def test_mentions_page_through_tagged_and_resume(
    fb: FacebookProvider, net: FakeNetwork
) -> None:
    net.on("GET", v(f"{PAGE}/tagged"), fbx("tagged_page1"), fbx("tagged_page2"))
    page = await fb.mentions(page_ctx(), None)
    assert [p.text for p in page.posts] == [
        "First time I tagged @facebookapp",
        "Thanks @facebookapp",
        "Loving the new @facebookapp features",
    ]
    assert net.calls("GET", v(f"{PAGE}/tagged"))[1].url.params["after"] == "MTM1NDk5MDM4"
    net.on("GET", v(f"{PAGE}/tagged"), fbx("tagged_page1"))
    again = await fb.mentions(page_ctx(), page.cursor)
    assert again.posts == [] and again.cursor == page.cursor
    since = net.calls("GET", v(f"{PAGE}/tagged"))[-1].url.params["since"]
    assert int(since) == int(datetime(2019, 7, 18, 9, tzinfo=UTC).timestamp())


async def test_publish_comment_and_message(fb: FacebookProvider, net: FakeNetwork) -> None:
    net.on("POST", v(f"{PAGE}/feed"), fbx("feed_created"))
    net.on("POST", v("20531316728_10158611807341730/comments"), fbx("comment_created"))
    net.on("POST", v(f"{PAGE}/messages"), fbx("message_sent"))
    post = await fb.publish(page_ctx(), "Hello Page fans")
    assert post.id == "20531316728_10158611807341730"
    assert form(net.calls("POST", v(f"{PAGE}/feed"))[0]) == {"message": "Hello Page fans"}
    comment = await fb.reply(page_ctx(), post, "First!")
    assert comment.in_reply_to_id == post.id
    message_id = await fb.send_dm(page_ctx(), "1254477777772919", "Thanks for writing")
    assert message_id.startswith("AG5Hz2")
    sent = json.loads(net.calls("POST", v(f"{PAGE}/messages"))[0].content)
    assert sent["recipient"] == {"id": "1254477777772919"}
    assert sent["messaging_type"] == "RESPONSE"


@pytest.mark.parametrize(
    ("name", "wait"),
    [
        ("app_limit", timedelta(hours=1)),
        ("user_limit", timedelta(hours=1)),
        ("page_limit", timedelta(hours=1)),
        ("custom_limit", timedelta(minutes=5)),
    ],
)
async def test_throttle_codes_are_rate_limits(
    fb: FacebookProvider, net: FakeNetwork, name: str, wait: timedelta
) -> None:
    net.on("GET", v("me"), fbx(name, 400))
    with pytest.raises(RateLimited) as caught:
        await fb.me(page_ctx())
    assert caught.value.retry_at == NOW + wait


async def test_business_use_case_header_says_when_access_returns(
    fb: FacebookProvider, net: FakeNetwork
) -> None:
    usage = {
        PAGE: [
            {
                "type": "pages",
                "call_count": 100,
                "total_cputime": 20,
                "total_time": 30,
                "estimated_time_to_regain_access": 17,
            }
        ]
    }
    net.on(
        "GET", v("me"), fbx("page_limit", 400, **{"X-Business-Use-Case-Usage": json.dumps(usage)})
    )
    with pytest.raises(RateLimited) as caught:
        await fb.me(page_ctx())
    assert caught.value.retry_at == NOW + timedelta(minutes=17)


async def test_usage_headers_become_the_budget(fb: FacebookProvider, net: FakeNetwork) -> None:
    app_usage = json.dumps({"call_count": 28, "total_time": 25, "total_cputime": 61})
    net.on("GET", v("me"), fbx("page", 200, **{"X-App-Usage": app_usage}))
    ctx = page_ctx()
    await fb.me(ctx)
    assert (ctx.budget.limit, ctx.budget.remaining) == (100, 39)


async def test_expired_token_means_reconnect(fb: FacebookProvider, net: FakeNetwork) -> None:
    net.on("GET", v("me"), fbx("expired_token", 400))
    with pytest.raises(ReconnectRequired):
        await fb.me(page_ctx())


async def test_permission_error_is_a_rejection(fb: FacebookProvider, net: FakeNetwork) -> None:
    net.on("POST", v(f"{PAGE}/feed"), fbx("permission_error", 403))
    with pytest.raises(RequestRejected):
        await fb.publish(page_ctx(), "nope")


async def test_login_trades_the_short_user_token_for_a_long_lived_one(
    fb: FacebookProvider, net: FakeNetwork
) -> None:
    app = AppCredentials("fb-app", "fb-secret")
    url = fb.authorization_url(
        app,
        redirect_uri="https://crm/cb",
        state="s",
        code_verifier="v" * 64,
        scopes=("pages_show_list",),
    )
    assert url.startswith("https://www.facebook.test/v26.0/dialog/oauth?")
    net.on("POST", v("oauth/access_token"), fbx("short_token"))
    net.on("GET", v("oauth/access_token"), fbx("token"))
    tokens = await fb.exchange_code(
        app, code="c", redirect_uri="https://crm/cb", code_verifier="v" * 64
    )
    assert tokens.access_token == "EAAGm0PX4ZCpsBAJKZBO2Y" and tokens.refresh_token is None
    assert tokens.expires_at is not None and (tokens.expires_at - NOW).days == 59
    exchange = net.calls("GET", v("oauth/access_token"))[0].url.params
    assert exchange["grant_type"] == "fb_exchange_token"
    assert exchange["fb_exchange_token"] == "EAAShortLived"
    assert (exchange["client_id"], exchange["client_secret"]) == ("fb-app", "fb-secret")
    # A Page token cannot be revoked alone, and DELETE /me/permissions would end every Page
    assert not fb.supports(Capability.REFRESH) and not fb.supports(Capability.REVOKE)


async def test_managed_pages_come_with_their_own_tokens(
    fb: FacebookProvider, net: FakeNetwork
) -> None:
    net.on("GET", v("me/accounts"), fbx("accounts"))
    pages = await fb.managed_accounts(CallContext("user-token"))
    assert [(p.profile.user_id, p.profile.handle, p.access_token) for p in pages] == [
        ("20531316728", "facebookapp", "EAAPageToken1"),
        ("1234567890", "1234567890", "EAAPageToken2"),
    ]
    request = net.calls("GET", v("me/accounts"))[0]
    assert "access_token" in request.url.params["fields"].split(",")
    assert request.headers["authorization"] == "Bearer user-token"


async def test_a_user_token_on_a_page_endpoint_asks_for_a_reconnect(
    fb: FacebookProvider, net: FakeNetwork
) -> None:
    net.on("POST", v(f"{PAGE}/feed"), fbx("page_token_required", 400))
    with pytest.raises(ReconnectRequired) as caught:
        await fb.publish(page_ctx(), "Hello")
    assert "Page's own token" in str(caught.value)


# --- Instagram ------------------------------------------------------------------------------


async def test_no_lookup_or_tags_with_instagram_login(
    ig: InstagramProvider, net: FakeNetwork
) -> None:
    """business_discovery and /tags exist only with Facebook Login (graph.facebook.com)."""
    with pytest.raises(NotSupported):
        await ig.lookup_handle(ig_ctx(), "bluebottle")
    with pytest.raises(NotSupported):
        await ig.mentions(ig_ctx(), None)
    assert net.requests == []


async def test_own_media_and_comments(ig: InstagramProvider, net: FakeNetwork) -> None:
    net.on("GET", v(f"{IG_ME}/media"), igx("media"))
    net.on("POST", v("17895695668004550/comments"), igx("comment_created"))
    net.on("POST", v("17870913679156914/replies"), igx("comment_created"))
    [media] = await ig.posts(ig_ctx(), IG_ME)
    assert (media.likes, media.replies, media.author_user_id) == (35, 4, IG_ME)
    with pytest.raises(NotSupported):
        await ig.posts(ig_ctx(), "17841401441775531")
    comment = await ig.reply(ig_ctx(), media, "Fun day!")
    assert comment.ref == "comment"
    await ig.reply(ig_ctx(), comment, "Indeed")
    assert form(net.calls("POST", v("17870913679156914/replies"))[0]) == {"message": "Indeed"}


async def test_publish_photo_through_a_container(ig: InstagramProvider, net: FakeNetwork) -> None:
    net.on("POST", v(f"{IG_ME}/media"), igx("container"))
    net.on("POST", v(f"{IG_ME}/media_publish"), igx("published"))
    net.on("GET", v("17920238422030506"), igx("published_media"))
    post = await ig.publish_media(ig_ctx(), "#BronzFonz", ("https://cdn.example.com/fonz.jpg",))
    assert post.id == "17920238422030506"
    assert form(net.calls("POST", v(f"{IG_ME}/media"))[0]) == {
        "image_url": "https://cdn.example.com/fonz.jpg",
        "caption": "#BronzFonz",
    }
    assert form(net.calls("POST", v(f"{IG_ME}/media_publish"))[0]) == {
        "creation_id": "17889615691921648"
    }


async def test_reel_polls_its_container_until_finished(
    ig: InstagramProvider, net: FakeNetwork
) -> None:
    net.on("POST", v(f"{IG_ME}/media"), igx("container"))
    net.on(
        "GET",
        v("17889615691921648"),
        igx("container_in_progress"),
        igx("container_in_progress"),
        igx("container_finished"),
    )
    net.on("POST", v(f"{IG_ME}/media_publish"), igx("published"))
    net.on("GET", v("17920238422030506"), igx("published_media"))
    await ig.publish_media(ig_ctx(), "clip", ("https://cdn.example.com/clip.mp4",))
    assert form(net.calls("POST", v(f"{IG_ME}/media"))[0])["media_type"] == "REELS"
    assert len(net.calls("GET", v("17889615691921648"))) == 3
    assert len(net.calls("POST", v(f"{IG_ME}/media_publish"))) == 1


async def test_reel_gives_up_without_publishing(ig: InstagramProvider, net: FakeNetwork) -> None:
    net.on("POST", v(f"{IG_ME}/media"), igx("container"))
    net.on("GET", v("17889615691921648"), igx("container_in_progress"))
    with pytest.raises(TransientProviderError):
        await ig.publish_media(ig_ctx(), "clip", ("https://cdn.example.com/clip.mp4",))
    assert len(net.calls("GET", v("17889615691921648"))) == 20
    net.on("GET", v("17889615691921648"), igx("container_error"))
    with pytest.raises(RequestRejected):
        await ig.publish_media(ig_ctx(), "clip", ("https://cdn.example.com/clip.mp4",))
    assert net.calls("POST", v(f"{IG_ME}/media_publish")) == []


async def test_text_alone_cannot_be_published(ig: InstagramProvider) -> None:
    with pytest.raises(NotSupported):
        await ig.publish(ig_ctx(), "just words")
    with pytest.raises(RequestRejected):
        await ig.publish_media(ig_ctx(), "no media", ())


async def test_instagram_account_limit(ig: InstagramProvider, net: FakeNetwork) -> None:
    net.on("GET", v("me"), igx("buc_limit", 400))
    with pytest.raises(RateLimited):
        await ig.me(ig_ctx())


async def test_instagram_capabilities_are_honest(ig: InstagramProvider) -> None:
    assert ig.supports(Capability.PUBLISH_MEDIA) and ig.supports(Capability.REFRESH)
    for missing in (
        Capability.PUBLISH,
        Capability.DM,
        Capability.LOOKUP_BY_ID,
        Capability.LOOKUP_BY_HANDLE,
        Capability.MENTIONS,
        Capability.REVOKE,
    ):
        assert not ig.supports(missing)


@pytest.mark.parametrize("shape", ["wrapped", "flat"])
async def test_token_answer_of_instagram_login_becomes_a_long_lived_token(
    ig: InstagramProvider, net: FakeNetwork, shape: str
) -> None:
    """The documented answer wraps the token in ``data``; a flat one is read too."""
    short = fixture("instagram/short_token")
    net.on(
        "POST",
        "/oauth/access_token",
        Answer(200, short if shape == "wrapped" else short["data"][0]),
    )
    net.on("GET", "/access_token", igx("long_token"))
    tokens = await ig.exchange_code(
        AppCredentials("ig-app", "s"),
        code="c",
        redirect_uri="https://crm/cb",
        code_verifier="v" * 64,
    )
    assert tokens == TokenSet(
        "IGQLongLived",
        "IGQLongLived",
        NOW + timedelta(seconds=5183944),
        ("instagram_business_basic", "instagram_business_content_publish"),
    )
    exchange = net.calls("GET", "/access_token")[0].url.params
    assert (exchange["grant_type"], exchange["access_token"]) == (
        "ig_exchange_token",
        "IGQShortLived",
    )
    assert exchange["client_secret"] == "s"


async def test_instagram_refreshes_a_long_lived_token_with_itself(
    ig: InstagramProvider, net: FakeNetwork
) -> None:
    net.on("GET", "/refresh_access_token", igx("refreshed_token"))
    fresh = await ig.refresh(AppCredentials("ig-app", "s"), "IGQLongLived")
    assert (fresh.access_token, fresh.refresh_token) == ("IGQRefreshed", "IGQRefreshed")
    sent = net.calls("GET", "/refresh_access_token")[0].url.params
    assert (sent["grant_type"], sent["access_token"]) == ("ig_refresh_token", "IGQLongLived")

"""TikTok adapter against documented example payloads (fixtures/tiktok)."""

from __future__ import annotations

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
    ProfileGone,
    RateLimited,
    ReconnectRequired,
    TokenSet,
    TransientProviderError,
)
from socialcrm.providers.outcomes import RequestRejected, TokenExpired
from socialcrm.providers.tiktok import TikTokProvider

from .fakes import Answer, FakeNetwork, body, fixture, form

pytestmark = pytest.mark.anyio

API = "https://open.tiktokapis.test"
NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
APP = AppCredentials("tt-client-key", "tt-secret")
OPEN_ID = "723f24d7-e717-40f8-a2b6-cb8464cd23b4"


@pytest.fixture(autouse=True)
def frozen_time() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def tt(http: httpx.AsyncClient) -> TikTokProvider:
    return TikTokProvider(http, API, auth_base_url="https://www.tiktok.test", poll_interval_s=0)


@pytest.fixture
def audited(http: httpx.AsyncClient) -> TikTokProvider:
    return TikTokProvider(http, API, audited=True, poll_interval_s=0)


PUBLISH_ID = "p_pub_url~v2.123456789"


def ctx() -> CallContext:
    return CallContext(access_token="act.token")


def ok(name: str, status: int = 200) -> Answer:
    return Answer(status, fixture(f"tiktok/{name}"))


async def test_user_info(tt: TikTokProvider, net: FakeNetwork) -> None:
    net.on("GET", "/v2/user/info/", ok("user_info"))
    me = await tt.me(ctx())
    assert (me.user_id, me.handle, me.followers, me.following, me.post_count) == (
        OPEN_ID,
        "tiktoker",
        327,
        52,
        14,
    )
    assert "follower_count" in net.calls("GET", "/v2/user/info/")[0].url.params["fields"]


async def test_own_videos_and_metrics(tt: TikTokProvider, net: FakeNetwork) -> None:
    net.on("GET", "/v2/user/info/", ok("user_info"))
    net.on("POST", "/v2/video/list/", ok("video_list"))
    net.on("POST", "/v2/video/query/", ok("video_query"))
    [video] = await tt.posts(ctx(), OPEN_ID)
    assert (video.id, video.text, video.likes, video.impressions, video.author_handle) == (
        "7080213458555737986",
        "Video 1 #fyp",
        120,
        5402,
        "tiktoker",
    )
    assert video.created_at == datetime.fromtimestamp(1648600000, tz=UTC)
    again = await tt.metrics(ctx(), video.id)
    assert (again.likes, again.replies) == (121, 9)
    assert body(net.calls("POST", "/v2/video/query/")[0]) == {
        "filters": {"video_ids": ["7080213458555737986"]}
    }


async def test_other_creators_are_out_of_reach(tt: TikTokProvider, net: FakeNetwork) -> None:
    net.on("GET", "/v2/user/info/", ok("user_info"))
    net.on("POST", "/v2/video/query/", ok("video_query_empty"))
    with pytest.raises(ProfileGone):
        await tt.posts(ctx(), "someone-else")
    with pytest.raises(ProfileGone):
        await tt.metrics(ctx(), "1")
    with pytest.raises(NotSupported):
        await tt.lookup_handle(ctx(), "@tiktoker")
    for missing in (
        Capability.LOOKUP_BY_HANDLE,
        Capability.MENTIONS,
        Capability.DM,
        Capability.PUBLISH,
    ):
        assert not tt.supports(missing)


def publishing(net: FakeNetwork, *statuses: str, creator: str = "creator_info") -> None:
    net.on("GET", "/v2/user/info/", ok("user_info"))
    net.on("POST", "/v2/post/publish/creator_info/query/", ok(creator))
    net.on("POST", "/v2/post/publish/content/init/", ok("publish_init"))
    net.on("POST", "/v2/post/publish/video/init/", ok("publish_init"))
    net.on("POST", "/v2/post/publish/status/fetch/", *(ok(s) for s in statuses))


async def test_direct_post_reads_creator_info_first_and_polls_until_the_post_exists(
    audited: TikTokProvider, net: FakeNetwork
) -> None:
    publishing(net, "publish_processing", "publish_processing", "publish_complete")
    post = await audited.publish_media(ctx(), "Spring drop", ("https://cdn.example.com/a.jpg",))
    assert post.id == "7380000000000000001" and post.ref == PUBLISH_ID
    assert post.url == "https://www.tiktok.com/@tiktoker/video/7380000000000000001"
    paths = [r.url.path for r in net.requests if r.url.path.startswith("/v2/post/")]
    assert paths[:2] == ["/v2/post/publish/creator_info/query/", "/v2/post/publish/content/init/"]
    assert len(net.calls("POST", "/v2/post/publish/status/fetch/")) == 3
    sent = body(net.calls("POST", "/v2/post/publish/content/init/")[0])
    assert sent["media_type"] == "PHOTO" and sent["post_mode"] == "DIRECT_POST"
    assert sent["post_info"]["privacy_level"] == "PUBLIC_TO_EVERYONE"
    assert sent["source_info"]["photo_images"] == ["https://cdn.example.com/a.jpg"]


async def test_an_unaudited_app_posts_self_only_and_keeps_the_publish_id(
    tt: TikTokProvider, net: FakeNetwork
) -> None:
    """TikTok never shows a private post an id: it is known by its publish_id."""
    publishing(net, "publish_processing", "publish_complete_private")
    post = await tt.publish_media(ctx(), "clip", ("https://cdn.example.com/a.mp4",))
    sent = body(net.calls("POST", "/v2/post/publish/video/init/")[0])
    assert sent["post_info"]["privacy_level"] == "SELF_ONLY"
    assert (post.id, post.ref, post.url) == (PUBLISH_ID, PUBLISH_ID, "")
    net.on("POST", "/v2/post/publish/status/fetch/", ok("publish_complete_private"))
    assert (await tt.metrics(ctx(), post.id)).id == PUBLISH_ID


async def test_status_reads_stop_at_a_limit(tt: TikTokProvider, net: FakeNetwork) -> None:
    publishing(net, "publish_processing")
    post = await tt.publish_media(ctx(), "clip", ("https://cdn.example.com/a.mp4",))
    assert post.id == PUBLISH_ID
    assert len(net.calls("POST", "/v2/post/publish/status/fetch/")) == 10
    with pytest.raises(TransientProviderError):
        await tt.metrics(ctx(), post.id)  # still processing: the read-back retries later
    net.on("POST", "/v2/post/publish/status/fetch/", ok("publish_complete"))
    net.on("POST", "/v2/video/query/", ok("video_query"))
    assert (await tt.metrics(ctx(), post.id)).id == "7080213458555737986"


async def test_privacy_comes_from_the_creators_options(
    audited: TikTokProvider, tt: TikTokProvider, net: FakeNetwork
) -> None:
    publishing(net, "publish_complete", creator="creator_info_private_account")
    await audited.publish_media(ctx(), "x", ("https://cdn.example.com/a.jpg",))
    sent = body(net.calls("POST", "/v2/post/publish/content/init/")[0])
    assert sent["post_info"]["privacy_level"] == "MUTUAL_FOLLOW_FRIENDS"
    with pytest.raises(RequestRejected):  # SELF_ONLY is not offered, and nothing else may be
        await tt.publish_media(ctx(), "x", ("https://cdn.example.com/a.jpg",))
    assert len(net.calls("POST", "/v2/post/publish/content/init/")) == 1


async def test_the_unaudited_refusal_names_the_setting(
    audited: TikTokProvider, net: FakeNetwork
) -> None:
    publishing(net, "publish_complete")
    net.on("POST", "/v2/post/publish/content/init/", ok("unaudited_client", 403))
    with pytest.raises(RequestRejected) as caught:
        await audited.publish_media(ctx(), "x", ("https://cdn.example.com/a.jpg",))
    assert caught.value.status == 403 and "SOCIALCRM_TIKTOK_AUDITED" in str(caught.value)


async def test_failed_or_invalid_posts_are_rejected(tt: TikTokProvider, net: FakeNetwork) -> None:
    publishing(net, "publish_failed")
    with pytest.raises(RequestRejected):
        await tt.publish_media(ctx(), "x", ("https://cdn.example.com/a.jpg",))
    with pytest.raises(RequestRejected):
        await tt.publish_media(ctx(), "x", ("https://a.example/v.mp4", "https://a.example/b.jpg"))
    net.on("POST", "/v2/post/publish/content/init/", ok("invalid_params", 400))
    with pytest.raises(RequestRejected):
        await tt.publish_media(ctx(), "x", ("https://cdn.example.com/a.jpg",))


async def test_rate_limit_exceeded_waits_a_minute(tt: TikTokProvider, net: FakeNetwork) -> None:
    net.on("GET", "/v2/user/info/", ok("rate_limited", 429))
    with pytest.raises(RateLimited) as caught:
        await tt.me(ctx())
    assert caught.value.retry_at == NOW + timedelta(minutes=1)


async def test_invalid_token(tt: TikTokProvider, net: FakeNetwork) -> None:
    net.on("GET", "/v2/user/info/", ok("invalid_token", 401))
    with pytest.raises(TokenExpired):
        await tt.me(ctx())
    net.on("GET", "/v2/user/info/", Answer(200, fixture("tiktok/invalid_token")))
    with pytest.raises(ReconnectRequired):
        await tt.me(ctx())


async def test_login_kit_uses_client_key_and_commas(tt: TikTokProvider, net: FakeNetwork) -> None:
    url = tt.authorization_url(
        APP,
        redirect_uri="https://crm/cb",
        state="s",
        code_verifier="v" * 64,
        scopes=("user.info.basic", "video.list"),
    )
    query = parse_qs(urlsplit(url).query)
    # Login Kit's code_challenge: the hex SHA-256 of the verifier, not RFC 7636's base64url
    assert query["code_challenge"] == [hashlib.sha256(b"v" * 64).hexdigest()]
    assert query["code_challenge_method"] == ["S256"]
    assert url.startswith("https://www.tiktok.test/v2/auth/authorize/?")
    assert query["client_key"] == ["tt-client-key"] and query["scope"] == [
        "user.info.basic,video.list"
    ]
    net.on("POST", "/v2/oauth/token/", ok("token"))
    tokens = await tt.exchange_code(
        APP, code="c", redirect_uri="https://crm/cb", code_verifier="v" * 64
    )
    assert tokens.scopes == ("user.info.basic", "video.list")
    assert tokens.expires_at == NOW + timedelta(days=1)
    sent = form(net.calls("POST", "/v2/oauth/token/")[0])
    assert sent["client_key"] == "tt-client-key" and sent["client_secret"] == "tt-secret"
    assert sent["code_verifier"] == "v" * 64
    await tt.refresh(APP, "rft.example")
    assert form(net.calls("POST", "/v2/oauth/token/")[1])["client_key"] == "tt-client-key"
    net.on("POST", "/v2/oauth/revoke/", Answer(200, {}))
    await tt.revoke(APP, TokenSet("act.token"))
    revoked = form(net.calls("POST", "/v2/oauth/revoke/")[0])
    assert revoked["client_key"] == "tt-client-key" and revoked["token"] == "act.token"

"""YouTube Data API v3 adapter against documented example payloads (fixtures/youtube)."""

from __future__ import annotations

from datetime import UTC, datetime

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
    TokenSet,
)
from socialcrm.providers.outcomes import RequestRejected, TokenExpired
from socialcrm.providers.youtube import YouTubeProvider

from .fakes import Answer, FakeNetwork, body, fixture, form

pytestmark = pytest.mark.anyio

API = "https://www.googleapis.test"
CHANNEL = "UC_x5XG1OV2P6uZZ5FSM9Ttw"
APP = AppCredentials("yt-client", "yt-secret")


@pytest.fixture
def yt(http: httpx.AsyncClient) -> YouTubeProvider:
    return YouTubeProvider(
        http, API, auth_url="https://accounts.google.test", token_url="https://oauth2.google.test"
    )


def ctx() -> CallContext:
    return CallContext(access_token="ya29.token")


def ok(name: str, status: int = 200) -> Answer:
    return Answer(status, fixture(f"youtube/{name}"))


def p(path: str) -> str:
    return f"/youtube/v3/{path}"


async def test_channel_by_handle(yt: YouTubeProvider, net: FakeNetwork) -> None:
    net.on("GET", p("channels"), ok("channels"))
    channel = await yt.lookup_handle(ctx(), "https://www.youtube.com/@GoogleDevelopers")
    assert (channel.user_id, channel.handle, channel.followers, channel.post_count) == (
        CHANNEL,
        "googledevelopers",
        2400000,
        6157,
    )
    assert channel.profile_url == "https://www.youtube.com/@googledevelopers"
    assert channel.avatar_url.endswith("high.jpg") and channel.location == "US"
    assert net.calls("GET", p("channels"))[0].url.params["forHandle"] == "@googledevelopers"


async def test_channel_url_and_id(yt: YouTubeProvider, net: FakeNetwork) -> None:
    net.on("GET", p("channels"), ok("channels"))
    await yt.lookup_handle(ctx(), f"https://www.youtube.com/channel/{CHANNEL}")
    await yt.lookup_user_id(ctx(), CHANNEL)
    assert [r.url.params["id"] for r in net.calls("GET", p("channels"))] == [CHANNEL, CHANNEL]


async def test_unknown_channel_is_200_without_items(yt: YouTubeProvider, net: FakeNetwork) -> None:
    net.on("GET", p("channels"), ok("channels_empty"))
    with pytest.raises(ProfileGone):
        await yt.lookup_handle(ctx(), "@nobody-here")


async def test_uploads_via_the_uploads_playlist(yt: YouTubeProvider, net: FakeNetwork) -> None:
    net.on("GET", p("playlistItems"), ok("playlist_items"))
    videos = await yt.posts(ctx(), CHANNEL, limit=2)
    assert [(v.id, v.text) for v in videos] == [
        ("XEzRZ35urlk", "Google I/O 2024 keynote"),
        ("xpQA3dBkGEA", "What's new in Android"),
    ]
    assert videos[0].url == "https://www.youtube.com/watch?v=XEzRZ35urlk"
    assert net.calls("GET", p("playlistItems"))[0].url.params["playlistId"] == "UU" + CHANNEL[2:]


async def test_video_statistics_are_strings(yt: YouTubeProvider, net: FakeNetwork) -> None:
    net.on("GET", p("videos"), ok("videos"))
    video = await yt.metrics(ctx(), "XEzRZ35urlk")
    assert (video.likes, video.replies, video.impressions) == (31245, 1204, 1543521)


async def test_comment_threads_and_replies(yt: YouTubeProvider, net: FakeNetwork) -> None:
    net.on("GET", p("commentThreads"), ok("comment_threads"))
    net.on("POST", p("comments"), ok("comment_created"))
    [thread] = await yt.comment_threads(ctx(), "XEzRZ35urlk")
    assert (thread.author_handle, thread.text, thread.replies, thread.in_reply_to_id) == (
        "janedev",
        "Great keynote!",
        3,
        "XEzRZ35urlk",
    )
    reply = await yt.reply(ctx(), thread, "Thanks!")
    assert reply.in_reply_to_id == thread.id
    assert body(net.calls("POST", p("comments"))[0]) == {
        "snippet": {"parentId": "UgzDE2tasfmrYLyNkGt4AaABAg", "textOriginal": "Thanks!"}
    }


async def test_reply_to_a_video_opens_a_thread(yt: YouTubeProvider, net: FakeNetwork) -> None:
    net.on("GET", p("videos"), ok("videos"))
    net.on("POST", p("commentThreads"), Answer(200, fixture("youtube/comment_threads")["items"][0]))
    video = await yt.metrics(ctx(), "XEzRZ35urlk")
    await yt.reply(ctx(), video, "Great keynote!")
    sent = body(net.calls("POST", p("commentThreads"))[0])
    assert sent["snippet"]["videoId"] == "XEzRZ35urlk"
    assert sent["snippet"]["topLevelComment"]["snippet"]["textOriginal"] == "Great keynote!"


@pytest.mark.parametrize(
    ("now", "reset"),
    [
        # PST (UTC-8): midnight Pacific is 08:00 UTC
        (datetime(2026, 1, 15, 7, 59, tzinfo=UTC), datetime(2026, 1, 15, 8, 0, tzinfo=UTC)),
        (datetime(2026, 1, 15, 8, 0, tzinfo=UTC), datetime(2026, 1, 16, 8, 0, tzinfo=UTC)),
        # PDT (UTC-7): midnight Pacific is 07:00 UTC
        (datetime(2026, 7, 1, 12, 0, tzinfo=UTC), datetime(2026, 7, 2, 7, 0, tzinfo=UTC)),
        # the night clocks spring forward: the next midnight is still PST's
        (datetime(2026, 3, 8, 6, 0, tzinfo=UTC), datetime(2026, 3, 8, 8, 0, tzinfo=UTC)),
    ],
)
async def test_quota_exceeded_waits_for_pacific_midnight(
    yt: YouTubeProvider, net: FakeNetwork, now: datetime, reset: datetime
) -> None:
    net.on("GET", p("channels"), ok("quota_exceeded", 403))
    with time_machine.travel(now, tick=False), pytest.raises(RateLimited) as caught:
        await yt.lookup_handle(ctx(), "@googledevelopers")
    assert caught.value.retry_at == reset


async def test_other_403_is_a_rejection_not_a_limit(yt: YouTubeProvider, net: FakeNetwork) -> None:
    net.on("POST", p("commentThreads"), ok("forbidden", 403))
    net.on("GET", p("videos"), ok("videos"))
    video = await yt.metrics(ctx(), "XEzRZ35urlk")
    with pytest.raises(RequestRejected):
        await yt.reply(ctx(), video, "hi")


async def test_missing_video_and_expired_token(yt: YouTubeProvider, net: FakeNetwork) -> None:
    net.on("GET", p("commentThreads"), ok("video_not_found", 404))
    with pytest.raises(ProfileGone):
        await yt.comment_threads(ctx(), "nope")
    net.on("GET", p("channels"), ok("auth_error", 401))
    with pytest.raises(TokenExpired):
        await yt.me(ctx())


async def test_no_mentions_no_publishing(yt: YouTubeProvider) -> None:
    assert not yt.supports(Capability.MENTIONS) and not yt.supports(Capability.PUBLISH)
    with pytest.raises(NotSupported):
        await yt.mentions(ctx(), None)


async def test_google_oauth_offline_refresh_keeps_refresh_token_and_revoke(
    yt: YouTubeProvider, net: FakeNetwork
) -> None:
    url = yt.authorization_url(
        APP, redirect_uri="https://crm/cb", state="s", code_verifier="v" * 64, scopes=("a", "b")
    )
    assert url.startswith("https://accounts.google.test/o/oauth2/v2/auth?")
    assert "access_type=offline" in url and "scope=a+b" in url
    net.on("POST", "/token", ok("token"), ok("token_refreshed"))
    tokens = await yt.exchange_code(
        APP, code="c", redirect_uri="https://crm/cb", code_verifier="v" * 64
    )
    assert tokens.refresh_token == "1//04dJ2kXq"
    fresh = await yt.refresh(APP, "1//04dJ2kXq")
    assert (fresh.access_token, fresh.refresh_token) == ("ya29.a0AfH6SMBy", "1//04dJ2kXq")
    net.on("POST", "/revoke", Answer(200, {}))
    await yt.revoke(APP, TokenSet("ya29", "1//04dJ2kXq"))
    assert form(net.calls("POST", "/revoke")[0])["token"] == "1//04dJ2kXq"

"""LinkedIn, Facebook Pages, Instagram, YouTube and TikTok: our adapters against the sandbox's
dialects over real HTTP, from the OAuth consent to each network's own limit signal."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import httpx
import pytest

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
)
from socialcrm.providers.registry import build_provider
from socialcrm.providers.youtube import YouTubeProvider
from socialcrm.sandbox.testing import RunningSandbox

from .flows import make_pkce

pytestmark = pytest.mark.anyio

NEW_NETWORKS = ("linkedin", "facebook", "instagram", "youtube", "tiktok")
SIGN_IN = {
    "linkedin": "ada-lovelace",
    "facebook": "analyticalengines",
    "instagram": "ada.lovelace",
    "youtube": "adalovelace",
    "tiktok": "ada.codes",
}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10.0) as http:
        yield http


def app_for(network: str) -> AppCredentials:
    return AppCredentials(f"test-{network}-client", f"test-{network}-secret")


def redirect_for(network: str) -> str:
    return f"http://testserver/oauth/callback/{network}"


async def connect(
    sandbox: RunningSandbox, http: httpx.AsyncClient, network: str, account: str | None = None
) -> tuple[Provider, CallContext]:
    """The whole OAuth dance through the adapter: authorize URL, consent, code, tokens."""
    provider = build_provider(network, http, sandbox_url=sandbox.url)
    pkce = make_pkce()
    app = app_for(network)
    url = provider.authorization_url(
        app,
        redirect_uri=redirect_for(network),
        state="st-1",
        code_verifier=pkce.verifier,
        scopes=provider.oauth_endpoints().default_scopes,
    )
    page = await http.get(url)
    assert page.status_code == 200, page.text
    query = dict(parse_qs(urlsplit(url).query))
    form = {k: v[0] for k, v in query.items()}
    decision = await http.post(
        url.split("?", 1)[0],
        data={**form, "account": account or SIGN_IN[network], "decision": "allow"},
    )
    assert decision.status_code == 303, decision.text
    back = {k: v[0] for k, v in parse_qs(urlsplit(decision.headers["location"]).query).items()}
    assert back["state"] == "st-1"
    tokens = await provider.exchange_code(
        app, code=back["code"], redirect_uri=redirect_for(network), code_verifier=pkce.verifier
    )
    return provider, CallContext(access_token=tokens.access_token)


@pytest.mark.parametrize("network", NEW_NETWORKS)
async def test_oauth_connects_and_me_is_the_signed_in_account(
    live_sandbox: RunningSandbox, client: httpx.AsyncClient, network: str
) -> None:
    provider, ctx = await connect(live_sandbox, client, network)
    me = await provider.me(ctx)
    assert me.network == network
    expected_handle = {"linkedin": "adaLv9x"}.get(network, SIGN_IN[network])
    assert me.handle == expected_handle


@pytest.mark.parametrize("network", ["linkedin", "youtube", "tiktok"])
async def test_refresh_gives_a_working_token(
    live_sandbox: RunningSandbox, client: httpx.AsyncClient, network: str
) -> None:
    provider = build_provider(network, client, sandbox_url=live_sandbox.url)
    pkce = make_pkce()
    app = app_for(network)
    url = provider.authorization_url(
        app, redirect_uri=redirect_for(network), state="s", code_verifier=pkce.verifier, scopes=()
    )
    form = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    decision = await client.post(
        url.split("?", 1)[0], data={**form, "account": SIGN_IN[network], "decision": "allow"}
    )
    code = parse_qs(urlsplit(decision.headers["location"]).query)["code"][0]
    tokens = await provider.exchange_code(
        app, code=code, redirect_uri=redirect_for(network), code_verifier=pkce.verifier
    )
    assert tokens.refresh_token and tokens.expires_at is not None
    fresh = await provider.refresh(app, tokens.refresh_token)
    assert fresh.access_token != tokens.access_token
    assert fresh.refresh_token  # Google keeps the old one, the others rotate
    assert (await provider.me(CallContext(fresh.access_token))).network == network


@pytest.mark.parametrize("network", ["linkedin", "facebook", "youtube", "tiktok"])
async def test_revoke_kills_the_token(
    live_sandbox: RunningSandbox, client: httpx.AsyncClient, network: str
) -> None:
    provider, ctx = await connect(live_sandbox, client, network)
    from socialcrm.providers.base import TokenSet

    await provider.revoke(app_for(network), TokenSet(ctx.access_token))
    with pytest.raises(ReconnectRequired):
        await provider.me(ctx)


async def test_consent_offers_only_accounts_that_can_sign_in(
    live_sandbox: RunningSandbox, client: httpx.AsyncClient
) -> None:
    """A LinkedIn organisation, a Facebook person and a personal Instagram cannot connect."""
    for network, refused, offered in (
        ("linkedin", "analytical-engines", "ada-lovelace"),
        ("facebook", "grace.hopper", "analyticalengines"),
        ("instagram", "babbage", "grace.codes"),
    ):
        provider = build_provider(network, client, sandbox_url=live_sandbox.url)
        url = provider.authorization_url(
            app_for(network),
            redirect_uri=redirect_for(network),
            state="s",
            code_verifier=make_pkce().verifier,
            scopes=(),
        )
        page = (await client.get(url)).text
        assert f"(@{offered})" in page and f"(@{refused})" not in page
        form = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
        forced = await client.post(
            url.split("?", 1)[0], data={**form, "account": refused, "decision": "allow"}
        )
        assert forced.status_code == 400


# --- LinkedIn -------------------------------------------------------------------------------


async def test_linkedin_organisation_lookup_posts_publish_comment_metrics(
    live_sandbox: RunningSandbox, client: httpx.AsyncClient
) -> None:
    li, ctx = await connect(live_sandbox, client, "linkedin")
    org = await li.lookup_handle(ctx, "https://www.linkedin.com/company/analytical-engines/")
    assert (org.user_id, org.display_name, org.followers) == (
        "urn:li:organization:2414183",
        "Analytical Engines Ltd",
        5400,
    )
    assert org.location == "London, GB" and org.links == ("https://analytical.example.com",)
    assert (await li.lookup_user_id(ctx, org.user_id)).handle == "analytical-engines"
    posts = await li.posts(ctx, org.user_id)
    assert [p.text for p in posts] == ["We are hiring engine designers."]
    mine = await li.publish(ctx, "Hello from the CRM")
    assert mine.id.startswith("urn:li:share:") and mine.author_user_id == "urn:li:person:adaLv9x"
    comment = await li.reply(ctx, posts[0], "Count me in")
    assert comment.in_reply_to_id == posts[0].id
    metrics = await li.metrics(ctx, posts[0].id)
    assert (metrics.likes, metrics.replies) == (31, 1)
    own = await li.posts(ctx, "urn:li:person:adaLv9x")
    assert own[0].text == "Hello from the CRM"


async def test_linkedin_members_and_unknowns(
    live_sandbox: RunningSandbox, client: httpx.AsyncClient
) -> None:
    li, ctx = await connect(live_sandbox, client, "linkedin")
    assert not li.supports(Capability.DM) and not li.supports(Capability.MENTIONS)
    with pytest.raises(NotSupported):
        await li.lookup_handle(ctx, "https://www.linkedin.com/in/grace-hopper")
    with pytest.raises(NotSupported):
        await li.send_dm(ctx, "urn:li:person:gRaCe42", "hi")
    with pytest.raises(ProfileGone):
        await li.lookup_handle(ctx, "no-such-company")
    with pytest.raises(ProfileGone):
        await li.lookup_user_id(ctx, "urn:li:organization:999")


async def test_linkedin_bare_429_waits_for_utc_midnight(
    live_sandbox: RunningSandbox, client: httpx.AsyncClient
) -> None:
    li, ctx = await connect(live_sandbox, client, "linkedin")
    live_sandbox.set_budget(network="linkedin", limit=1, window_s=86400)
    await li.me(ctx)
    raw = await client.get(
        f"{live_sandbox.url}/linkedin/v2/userinfo",
        headers={"Authorization": f"Bearer {ctx.access_token}"},
    )
    assert raw.status_code == 429 and "retry-after" not in raw.headers
    assert raw.json()["status"] == 429 and "DAY limit" in raw.json()["message"]
    with pytest.raises(RateLimited) as caught:
        await li.me(ctx)
    now = datetime.now(UTC)
    midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), UTC)
    assert caught.value.retry_at == midnight


# --- Facebook Pages -------------------------------------------------------------------------


async def test_facebook_page_lookup_posts_tags_publish_comment_dm(
    live_sandbox: RunningSandbox, client: httpx.AsyncClient
) -> None:
    fb, ctx = await connect(live_sandbox, client, "facebook")
    page = await fb.lookup_handle(ctx, "https://www.facebook.com/analyticalengines")
    assert (page.user_id, page.display_name, page.followers) == (
        "104000000001",
        "Analytical Engines",
        3100,
    )
    assert (await fb.lookup_user_id(ctx, "104000000001")).handle == "analyticalengines"
    posts = await fb.posts(ctx, page.user_id)
    assert [(p.id, p.likes, p.reposts) for p in posts] == [("104000000001_9601", 25, 4)]
    first = await fb.mentions(ctx, None)
    assert [(p.author_handle, p.text) for p in first.posts] == [
        ("Grace Hopper", "Great talk at @analyticalengines today")
    ]
    assert (await fb.mentions(ctx, first.cursor)).posts == []
    published = await fb.publish(ctx, "Doors open at ten")
    assert published.id.startswith("104000000001_")
    comment = await fb.reply(ctx, first.posts[0], "Thank you, Grace!")
    assert comment.in_reply_to_id == first.posts[0].id
    assert (await fb.metrics(ctx, first.posts[0].id)).replies == 1
    message_id = await fb.send_dm(ctx, "104000000002", "Thanks for coming!")
    assert message_id.startswith("m_")
    dms = live_sandbox.control.get("/dms", params={"network": "facebook"}).json()
    assert [(d["recipient_handle"], d["text"]) for d in dms] == [
        ("grace.hopper", "Thanks for coming!")
    ]


async def test_facebook_people_are_not_pages(
    live_sandbox: RunningSandbox, client: httpx.AsyncClient
) -> None:
    fb, ctx = await connect(live_sandbox, client, "facebook")
    with pytest.raises(ProfileGone):
        await fb.lookup_handle(ctx, "grace.hopper")
    with pytest.raises(ProfileGone):
        await fb.lookup_user_id(ctx, "104000000002")


async def test_meta_throttle_codes_and_usage_headers(
    live_sandbox: RunningSandbox, client: httpx.AsyncClient
) -> None:
    fb, ctx = await connect(live_sandbox, client, "facebook")
    live_sandbox.set_budget(network="facebook", limit=4, window_s=600)
    await fb.me(ctx)
    assert ctx.budget.limit == 100 and ctx.budget.remaining == 75  # 1 of 4 calls: 25 % used
    raw_headers = {"Authorization": f"Bearer {ctx.access_token}"}
    for _ in range(3):
        await client.get(f"{live_sandbox.url}/facebook/v21.0/me", headers=raw_headers)
    raw = await client.get(f"{live_sandbox.url}/facebook/v21.0/me", headers=raw_headers)
    assert raw.json()["error"]["code"] == 32
    assert "X-App-Usage" in raw.headers and "X-Business-Use-Case-Usage" in raw.headers
    before = datetime.now(UTC)
    with pytest.raises(RateLimited) as caught:
        await fb.me(ctx)
    # estimated_time_to_regain_access: the window's 10 minutes, rounded up to whole minutes
    assert before + timedelta(minutes=9) <= caught.value.retry_at <= before + timedelta(minutes=11)
    live_sandbox.reset()
    ig, ig_ctx = await connect(live_sandbox, client, "instagram")
    live_sandbox.add_fault(network="instagram", endpoint="*", status=429, retry_after=120)
    with pytest.raises(RateLimited) as app_level:
        await ig.me(ig_ctx)  # code 4, app level
    assert app_level.value.retry_at >= before + timedelta(minutes=2)


# --- Instagram ------------------------------------------------------------------------------


async def test_instagram_business_discovery_only_finds_professional_accounts(
    live_sandbox: RunningSandbox, client: httpx.AsyncClient
) -> None:
    ig, ctx = await connect(live_sandbox, client, "instagram")
    grace = await ig.lookup_handle(ctx, "https://www.instagram.com/grace.codes/")
    assert (grace.handle, grace.followers, grace.following, grace.post_count) == (
        "grace.codes",
        800,
        60,
        2,
    )
    with pytest.raises(ProfileGone):
        await ig.lookup_handle(ctx, "babbage")  # a personal account
    with pytest.raises(ProfileGone):
        await ig.lookup_handle(ctx, "nobody.here")
    assert not ig.supports(Capability.LOOKUP_BY_ID)
    assert not ig.supports(Capability.PUBLISH) and ig.supports(Capability.PUBLISH_MEDIA)


async def test_instagram_media_tags_comments_and_publishing(
    live_sandbox: RunningSandbox, client: httpx.AsyncClient
) -> None:
    ig, ctx = await connect(live_sandbox, client, "instagram")
    own = await ig.posts(ctx, "17841400000000001")
    assert [(p.text, p.likes) for p in own] == [("The engine, sketched.", 40)]
    with pytest.raises(NotSupported):
        await ig.posts(ctx, "17841400000000002")
    tags = await ig.mentions(ctx, None)
    assert [(p.author_handle, p.text) for p in tags.posts] == [
        ("grace.codes", "Debugging with @ada.lovelace")
    ]
    comment = await ig.reply(ctx, tags.posts[0], "It was fun!")
    reply = await ig.reply(ctx, comment, "Really")
    assert reply.in_reply_to_id == comment.id
    assert (await ig.metrics(ctx, tags.posts[0].id)).replies == 1
    with pytest.raises(NotSupported):
        await ig.publish(ctx, "text alone")
    single = await ig.publish_media(ctx, "New sketch", ("https://cdn.example.com/a.jpg",))
    carousel = await ig.publish_media(
        ctx, "Two views", ("https://cdn.example.com/a.jpg", "https://cdn.example.com/b.jpg")
    )
    assert [p.text for p in await ig.posts(ctx, "17841400000000001")][:2] == [
        "Two views",
        "New sketch",
    ]
    assert single.id != carousel.id


# --- YouTube --------------------------------------------------------------------------------


async def test_youtube_channels_videos_and_comment_threads(
    live_sandbox: RunningSandbox, client: httpx.AsyncClient
) -> None:
    provider, ctx = await connect(live_sandbox, client, "youtube")
    assert isinstance(provider, YouTubeProvider)
    yt = provider
    ada = await yt.lookup_handle(ctx, "https://www.youtube.com/@AdaLovelace")
    assert (ada.user_id, ada.followers, ada.post_count) == ("UCada0000000000000000000", 15000, 1)
    assert (await yt.lookup_user_id(ctx, ada.user_id)).handle == "adalovelace"
    with pytest.raises(ProfileGone):
        await yt.lookup_handle(ctx, "@nobodyhere")
    videos = await yt.posts(ctx, ada.user_id)
    assert [v.text for v in videos] == ["How the Analytical Engine weaves algebra"]
    stats = await yt.metrics(ctx, videos[0].id)
    assert (stats.likes, stats.impressions, stats.replies) == (300, 12000, 1)
    threads = await yt.comment_threads(ctx, videos[0].id)
    assert [(t.author_handle, t.text) for t in threads] == [
        ("gracehopper", "Wonderful lecture, thank you!")
    ]
    answer = await yt.reply(ctx, threads[0], "Thank you, Grace")
    assert answer.in_reply_to_id == threads[0].id
    top = await yt.reply(ctx, videos[0], "Slides are in the description")
    assert top.in_reply_to_id == videos[0].id
    assert (await yt.metrics(ctx, videos[0].id)).replies == 2
    assert not yt.supports(Capability.MENTIONS)
    with pytest.raises(NotSupported):
        await yt.mentions(ctx, None)


async def test_youtube_quota_is_403_until_pacific_midnight(
    live_sandbox: RunningSandbox, client: httpx.AsyncClient
) -> None:
    yt, ctx = await connect(live_sandbox, client, "youtube")
    live_sandbox.set_budget(network="youtube", limit=60, window_s=86400)
    videos = await yt.posts(ctx, "UCada0000000000000000000")  # 1 unit
    await yt.reply(ctx, videos[0], "first")  # 50 units: 51 spent
    with pytest.raises(RateLimited) as caught:
        await yt.reply(ctx, videos[0], "second")  # would be 101
    pacific = ZoneInfo("America/Los_Angeles")
    local = caught.value.retry_at.astimezone(pacific)
    assert (local.hour, local.minute) == (0, 0)
    assert timedelta(0) < caught.value.retry_at - datetime.now(UTC) <= timedelta(hours=24)
    raw = await client.get(
        f"{live_sandbox.url}/youtube/youtube/v3/videos",
        params={"part": "statistics", "id": videos[0].id},
        headers={"Authorization": f"Bearer {ctx.access_token}"},
    )
    assert raw.status_code == 200  # 1 unit still fits
    assert (await yt.posts(ctx, "UCada0000000000000000000"))[0].id == videos[0].id


async def test_youtube_bursts_back_off_briefly_not_until_midnight(
    live_sandbox: RunningSandbox, client: httpx.AsyncClient
) -> None:
    """Only ``quotaExceeded`` is the day's budget; a 429 / ``rateLimitExceeded`` is a short
    burst limit, and parking the work until Pacific midnight lost a day of replies."""
    yt, ctx = await connect(live_sandbox, client, "youtube")
    live_sandbox.add_fault(network="youtube", status=429, count=1)
    with pytest.raises(RateLimited) as caught:
        await yt.posts(ctx, "UCada0000000000000000000")
    assert caught.value.retry_at - datetime.now(UTC) <= timedelta(minutes=2)
    assert await yt.posts(ctx, "UCada0000000000000000000")  # the burst is over


def test_youtube_403_rate_limit_reasons_are_short_waits() -> None:
    from socialcrm.providers.youtube import raise_for_google_error
    from socialcrm.sandbox.signals import google_error

    for reason in ("rateLimitExceeded", "userRateLimitExceeded"):
        answer = httpx.Response(403, json=google_error(403, reason))
        with pytest.raises(RateLimited) as caught:
            raise_for_google_error(answer)
        assert caught.value.retry_at - datetime.now(UTC) <= timedelta(minutes=1)


# --- TikTok ---------------------------------------------------------------------------------


async def test_tiktok_user_info_videos_and_content_posting(
    live_sandbox: RunningSandbox, client: httpx.AsyncClient
) -> None:
    tt, ctx = await connect(live_sandbox, client, "tiktok")
    me = await tt.me(ctx)
    assert (me.user_id, me.handle, me.followers, me.post_count) == (
        "ada-open-id-0001",
        "ada.codes",
        5100,
        1,
    )
    videos = await tt.posts(ctx, me.user_id)
    assert [(v.text, v.likes, v.impressions) for v in videos] == [
        ("Bernoulli numbers in 30 seconds", 800, 40000)
    ]
    assert (await tt.metrics(ctx, videos[0].id)).reposts == 20
    posted = await tt.publish_media(ctx, "Engines at dawn", ("https://cdn.example.com/1.jpg",))
    assert posted.id.isdigit() and posted.url.endswith(f"/video/{posted.id}")
    assert (await tt.metrics(ctx, posted.id)).text == "Engines at dawn"
    clip = await tt.publish_media(ctx, "A clip", ("https://cdn.example.com/clip.mp4",))
    assert clip.id != posted.id
    for unsupported in (Capability.LOOKUP_BY_HANDLE, Capability.LOOKUP_BY_ID, Capability.MENTIONS):
        assert not tt.supports(unsupported)
    with pytest.raises(NotSupported):
        await tt.lookup_handle(ctx, "@grace.debugs")


async def test_tiktok_429_rate_limit_exceeded(
    live_sandbox: RunningSandbox, client: httpx.AsyncClient
) -> None:
    tt, ctx = await connect(live_sandbox, client, "tiktok")
    live_sandbox.add_fault(network="tiktok", endpoint="profile", status=429)
    raw = await client.get(
        f"{live_sandbox.url}/tiktok/v2/user/info/",
        params={"fields": "open_id"},
        headers={"Authorization": f"Bearer {ctx.access_token}"},
    )
    assert raw.status_code == 429 and raw.json()["error"]["code"] == "rate_limit_exceeded"
    live_sandbox.add_fault(network="tiktok", endpoint="profile", status=429)
    before = datetime.now(UTC)
    with pytest.raises(RateLimited) as caught:
        await tt.me(ctx)
    assert before + timedelta(seconds=55) <= caught.value.retry_at <= before + timedelta(minutes=2)


async def test_post_of_another_network_is_refused(
    live_sandbox: RunningSandbox, client: httpx.AsyncClient
) -> None:
    fb, ctx = await connect(live_sandbox, client, "facebook")
    alien = PostData("x", "not_a_graph id", "1", "ada", "", None)
    with pytest.raises(ProfileGone):
        await fb.reply(ctx, alien, "hello")

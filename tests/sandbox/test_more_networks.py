"""LinkedIn, Facebook Pages, Instagram, YouTube and TikTok: our adapters against the sandbox's
dialects over real HTTP, from the OAuth consent to each network's own limit signal."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import httpx
import pytest

from socialcrm.providers.adapter import NetworkOptions
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
from socialcrm.providers.outcomes import RequestRejected, ScopeMissing, VersionRetired
from socialcrm.providers.registry import build_provider
from socialcrm.providers.youtube import YouTubeProvider
from socialcrm_sandbox.testing import RunningSandbox

from .flows import make_pkce

pytestmark = pytest.mark.anyio

NEW_NETWORKS = ("linkedin", "facebook", "instagram", "youtube", "tiktok")
SIGN_IN = {
    "linkedin": "ada-lovelace",
    "facebook": "ada.lovelace",  # a person: Facebook Login signs in people, who pick Pages
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
    sandbox: RunningSandbox,
    http: httpx.AsyncClient,
    network: str,
    account: str | None = None,
    *,
    extra_scopes: tuple[str, ...] = (),
    options: NetworkOptions | None = None,
    app: AppCredentials | None = None,
) -> tuple[Provider, CallContext]:
    """The whole OAuth dance through the adapter: authorize URL, consent, code, tokens."""
    provider = build_provider(
        network, http, sandbox_url=sandbox.url, options=options or NetworkOptions(poll_interval_s=0)
    )
    pkce = make_pkce()
    app = app or app_for(network)
    url = provider.authorization_url(
        app,
        redirect_uri=redirect_for(network),
        state="st-1",
        code_verifier=pkce.verifier,
        scopes=(*provider.oauth_endpoints().default_scopes, *extra_scopes),
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


async def connect_page(
    sandbox: RunningSandbox, http: httpx.AsyncClient, page: str = "analyticalengines"
) -> tuple[Provider, CallContext]:
    """Facebook: sign the person in, list the Pages they manage, act with one Page's token."""
    fb, user_ctx = await connect(sandbox, http, "facebook")
    managed = {m.profile.handle: m for m in await fb.managed_accounts(user_ctx)}
    chosen = managed[page]
    return fb, CallContext(chosen.access_token, chosen.profile.user_id, chosen.profile.handle)


@pytest.mark.parametrize("network", NEW_NETWORKS)
async def test_oauth_connects_and_me_is_the_signed_in_account(
    live_sandbox: RunningSandbox, client: httpx.AsyncClient, network: str
) -> None:
    provider, ctx = await connect(live_sandbox, client, network)
    me = await provider.me(ctx)
    assert me.network == network
    # A Facebook user token reads the person: id and name, no username
    expected_handle = {"linkedin": "adaLv9x", "facebook": "104000000003"}.get(
        network, SIGN_IN[network]
    )
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


@pytest.mark.parametrize("network", ["linkedin", "youtube", "tiktok"])
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
    """A LinkedIn organisation, a Facebook Page (people sign in, then pick their Pages) and a
    personal Instagram cannot sign in."""
    for network, refused, offered in (
        ("linkedin", "analytical-engines", "ada-lovelace"),
        ("facebook", "analyticalengines", "ada.lovelace"),
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
    # A member's own posts need r_member_social, which the default grant does not carry
    with pytest.raises(ScopeMissing) as missing:
        await li.posts(ctx, "urn:li:person:adaLv9x")
    assert missing.value.scope == "r_member_social"
    approved, approved_ctx = await connect(
        live_sandbox, client, "linkedin", extra_scopes=("r_member_social",)
    )
    own = await approved.posts(approved_ctx, "urn:li:person:adaLv9x")
    assert own[0].text == "Hello from the CRM"


async def test_linkedin_non_admins_get_lookup_fields_and_no_posts(
    live_sandbox: RunningSandbox, client: httpx.AsyncClient
) -> None:
    """Grace administers no organisation: lookups answer without the description,
    ``organizations/{id}`` refuses her (403 is not "gone"), and so do the posts."""
    li, ctx = await connect(live_sandbox, client, "linkedin", "grace-hopper")
    by_id = await li.lookup_user_id(ctx, "urn:li:organization:2414183")
    by_name = await li.lookup_handle(ctx, "analytical-engines")
    assert (by_id.display_name, by_id.bio, by_id.followers) == ("Analytical Engines Ltd", "", 5400)
    assert by_name.bio == "" and by_name.user_id == by_id.user_id
    raw = await client.get(
        f"{live_sandbox.url}/linkedin/rest/organizations/2414183",
        headers={
            "Authorization": f"Bearer {ctx.access_token}",
            "LinkedIn-Version": li.version,  # type: ignore[attr-defined]
        },
    )
    assert raw.status_code == 403 and raw.json()["code"] == "ACCESS_DENIED"
    with pytest.raises(RequestRejected) as refused:
        await li.posts(ctx, "urn:li:organization:2414183")
    assert refused.value.status == 403 and not isinstance(refused.value, ProfileGone)
    admin, admin_ctx = await connect(live_sandbox, client, "linkedin")
    assert (await admin.lookup_user_id(admin_ctx, by_id.user_id)).bio


async def test_linkedin_retired_version_is_426_and_a_typed_error(
    live_sandbox: RunningSandbox, client: httpx.AsyncClient
) -> None:
    li, ctx = await connect(
        live_sandbox, client, "linkedin", options=NetworkOptions(linkedin_version="202410")
    )
    assert (await li.me(ctx)).handle == "adaLv9x"  # userinfo is unversioned: connecting works
    with pytest.raises(VersionRetired) as caught:
        await li.lookup_handle(ctx, "analytical-engines")
    assert "SOCIALCRM_LINKEDIN_VERSION" in str(caught.value)
    headers = {"Authorization": f"Bearer {ctx.access_token}"}
    url = f"{live_sandbox.url}/linkedin/rest/organizationsLookup?ids=List(2414183)"
    retired = await client.get(url, headers={**headers, "LinkedIn-Version": "202410"})
    assert retired.status_code == 426
    assert retired.json() == {
        "status": 426,
        "code": "NONEXISTENT_VERSION",
        "message": "Requested version 20241001 is not active",
    }
    missing = await client.get(url, headers=headers)
    assert missing.status_code == 400 and missing.json()["code"] == "VERSION_MISSING"
    current = await client.get(url, headers={**headers, "LinkedIn-Version": "202610"})
    assert current.status_code == 200


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


async def test_facebook_login_lists_the_persons_pages_with_their_own_tokens(
    live_sandbox: RunningSandbox, client: httpx.AsyncClient
) -> None:
    fb, user_ctx = await connect(live_sandbox, client, "facebook")
    managed = await fb.managed_accounts(user_ctx)
    assert [(m.profile.user_id, m.profile.handle) for m in managed] == [
        ("104000000001", "analyticalengines"),
        ("104000000004", "engineclub"),
    ]
    assert len({m.access_token for m in managed} | {user_ctx.access_token}) == 3
    for chosen in managed:
        assert (await fb.me(CallContext(chosen.access_token))).user_id == chosen.profile.user_id
    _, grace_ctx = await connect(live_sandbox, client, "facebook", "grace.hopper")
    assert await fb.managed_accounts(grace_ctx) == []  # she manages no Page


async def test_facebook_tokens_are_long_lived_and_page_tokens_do_not_expire(
    live_sandbox: RunningSandbox, client: httpx.AsyncClient
) -> None:
    fb = build_provider("facebook", client, sandbox_url=live_sandbox.url)
    pkce = make_pkce()
    url = fb.authorization_url(
        app_for("facebook"),
        redirect_uri=redirect_for("facebook"),
        state="s",
        code_verifier=pkce.verifier,
        scopes=(),
    )
    form = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    decision = await client.post(
        url.split("?", 1)[0], data={**form, "account": "ada.lovelace", "decision": "allow"}
    )
    code = parse_qs(urlsplit(decision.headers["location"]).query)["code"][0]
    tokens = await fb.exchange_code(
        app_for("facebook"),
        code=code,
        redirect_uri=redirect_for("facebook"),
        code_verifier=pkce.verifier,
    )
    assert tokens.expires_at is not None
    assert tokens.expires_at - datetime.now(UTC) > timedelta(days=59)  # not the hour-long one
    counts = live_sandbox.control.get("/tokens", params={"network": "facebook"}).json()
    assert counts["active"] == 2  # the short-lived token and its long-lived successor


async def test_a_user_token_cannot_act_as_the_page(
    live_sandbox: RunningSandbox, client: httpx.AsyncClient
) -> None:
    """What the adapter did before: the Facebook Login user token used as if it were the
    Page. Meta answers (#190); the adapter says to reconnect and pick the Page."""
    fb, user_ctx = await connect(live_sandbox, client, "facebook")
    as_page = CallContext(user_ctx.access_token, "104000000001", "analyticalengines")
    with pytest.raises(ReconnectRequired) as caught:
        await fb.publish(as_page, "Doors open at ten")
    assert "Page" in str(caught.value) and "reconnect" in str(caught.value)
    for call in (fb.mentions(as_page, None), fb.send_dm(as_page, "104000000002", "hi")):
        with pytest.raises(ReconnectRequired):
            await call
    raw = await client.post(
        f"{live_sandbox.url}/facebook/v26.0/104000000001/feed",
        headers={"Authorization": f"Bearer {user_ctx.access_token}"},
        data={"message": "x"},
    )
    error = raw.json()["error"]
    assert (raw.status_code, error["code"], error["type"]) == (400, 190, "OAuthException")
    assert error["message"] == "(#190) This method must be called with a Page Access Token"


async def test_facebook_page_lookup_posts_tags_publish_comment_dm(
    live_sandbox: RunningSandbox, client: httpx.AsyncClient
) -> None:
    fb, ctx = await connect_page(live_sandbox, client)
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
    assert not fb.supports(Capability.REVOKE)  # a Page token cannot be revoked on its own


async def test_facebook_people_are_not_pages(
    live_sandbox: RunningSandbox, client: httpx.AsyncClient
) -> None:
    fb, ctx = await connect_page(live_sandbox, client)
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
        await client.get(f"{live_sandbox.url}/facebook/v26.0/me", headers=raw_headers)
    raw = await client.get(f"{live_sandbox.url}/facebook/v26.0/me", headers=raw_headers)
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


async def test_instagram_login_has_no_business_discovery_and_no_tags(
    live_sandbox: RunningSandbox, client: httpx.AsyncClient
) -> None:
    """Both exist only with Facebook Login on graph.facebook.com: the Instagram-Login host
    refuses them, and the adapter no longer offers them."""
    ig, ctx = await connect(live_sandbox, client, "instagram")
    for missing in (Capability.LOOKUP_BY_HANDLE, Capability.MENTIONS, Capability.LOOKUP_BY_ID):
        assert not ig.supports(missing)
    with pytest.raises(NotSupported):
        await ig.lookup_handle(ctx, "grace.codes")
    with pytest.raises(NotSupported):
        await ig.mentions(ctx, None)
    headers = {"Authorization": f"Bearer {ctx.access_token}"}
    base = f"{live_sandbox.url}/instagram/v26.0/17841400000000001"
    discovery = await client.get(
        base,
        params={"fields": "business_discovery.username(grace.codes){username}"},
        headers=headers,
    )
    assert discovery.status_code == 400 and discovery.json()["error"]["code"] == 100
    assert "business_discovery" in discovery.json()["error"]["message"]
    tags = await client.get(f"{base}/tags", headers=headers)
    assert tags.status_code == 400 and tags.json()["error"]["code"] == 2500
    assert not ig.supports(Capability.PUBLISH) and ig.supports(Capability.PUBLISH_MEDIA)


async def test_instagram_tokens_are_exchanged_for_long_lived_ones_and_refresh(
    live_sandbox: RunningSandbox, client: httpx.AsyncClient
) -> None:
    ig = build_provider("instagram", client, sandbox_url=live_sandbox.url)
    pkce = make_pkce()
    url = ig.authorization_url(
        app_for("instagram"),
        redirect_uri=redirect_for("instagram"),
        state="s",
        code_verifier=pkce.verifier,
        scopes=("instagram_business_basic",),
    )
    form = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    decision = await client.post(
        url.split("?", 1)[0], data={**form, "account": "ada.lovelace", "decision": "allow"}
    )
    code = parse_qs(urlsplit(decision.headers["location"]).query)["code"][0]
    tokens = await ig.exchange_code(
        app_for("instagram"),
        code=code,
        redirect_uri=redirect_for("instagram"),
        code_verifier=pkce.verifier,
    )
    assert tokens.scopes == ("instagram_business_basic",)  # read from the wrapped answer
    assert tokens.expires_at is not None
    assert tokens.expires_at - datetime.now(UTC) > timedelta(days=59)
    assert tokens.refresh_token == tokens.access_token  # Instagram refreshes a token with itself
    fresh = await ig.refresh(app_for("instagram"), tokens.access_token)
    assert fresh.access_token != tokens.access_token
    assert (await ig.me(CallContext(fresh.access_token))).handle == "ada.lovelace"
    assert ig.supports(Capability.REFRESH)


async def test_instagram_media_comments_and_publishing(
    live_sandbox: RunningSandbox, client: httpx.AsyncClient
) -> None:
    ig, ctx = await connect(live_sandbox, client, "instagram")
    own = await ig.posts(ctx, "17841400000000001")
    assert [(p.text, p.likes) for p in own] == [("The engine, sketched.", 40)]
    with pytest.raises(NotSupported):
        await ig.posts(ctx, "17841400000000002")
    comment = await ig.reply(ctx, own[0], "It was fun!")
    reply = await ig.reply(ctx, comment, "Really")
    assert reply.in_reply_to_id == comment.id
    assert (await ig.metrics(ctx, own[0].id)).replies == 1
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


async def test_instagram_reels_wait_until_their_container_is_finished(
    live_sandbox: RunningSandbox, client: httpx.AsyncClient
) -> None:
    ig, ctx = await connect(live_sandbox, client, "instagram")
    reel = await ig.publish_media(ctx, "A reel", ("https://cdn.example.com/reel.mp4",))
    assert reel.text == "A reel"
    # What the adapter did before: one status read, then publish (or give up): the sandbox's
    # container is IN_PROGRESS at first, and publishing it then is refused.
    headers = {"Authorization": f"Bearer {ctx.access_token}"}
    base = f"{live_sandbox.url}/instagram/v26.0"
    made = await client.post(
        f"{base}/17841400000000001/media",
        headers=headers,
        data={"video_url": "https://cdn.example.com/r2.mp4", "media_type": "REELS"},
    )
    container = made.json()["id"]
    status = await client.get(
        f"{base}/{container}", params={"fields": "status_code"}, headers=headers
    )
    assert status.json()["status_code"] == "IN_PROGRESS"
    early = await client.post(
        f"{base}/17841400000000001/media_publish", headers=headers, data={"creation_id": container}
    )
    assert early.status_code == 400 and early.json()["error"]["error_subcode"] == 2207027


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
    from socialcrm_sandbox.signals import google_error

    for reason in ("rateLimitExceeded", "userRateLimitExceeded"):
        answer = httpx.Response(403, json=google_error(403, reason))
        with pytest.raises(RateLimited) as caught:
            raise_for_google_error(answer)
        assert caught.value.retry_at - datetime.now(UTC) <= timedelta(minutes=1)


# --- TikTok ---------------------------------------------------------------------------------


async def test_tiktok_user_info_videos_and_private_posts_of_an_unaudited_app(
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
    # The test app is not audited: SELF_ONLY, which TikTok never gives a public id
    posted = await tt.publish_media(ctx, "Engines at dawn", ("https://cdn.example.com/1.jpg",))
    assert posted.id == posted.ref and posted.id.startswith("v_pub_url~") and posted.url == ""
    assert (await tt.metrics(ctx, posted.id)).id == posted.id  # complete, and private
    assert [v.text for v in await tt.posts(ctx, me.user_id)] == [videos[0].text]
    for unsupported in (Capability.LOOKUP_BY_HANDLE, Capability.LOOKUP_BY_ID, Capability.MENTIONS):
        assert not tt.supports(unsupported)
    with pytest.raises(NotSupported):
        await tt.lookup_handle(ctx, "@grace.debugs")


async def test_tiktok_refuses_public_posts_from_an_unaudited_app(
    live_sandbox: RunningSandbox, client: httpx.AsyncClient
) -> None:
    """The operator claims an audit TikTok has not granted: a clear refusal, nothing posted."""
    tt, ctx = await connect(
        live_sandbox,
        client,
        "tiktok",
        options=NetworkOptions(tiktok_audited=True, poll_interval_s=0),
    )
    with pytest.raises(RequestRejected) as caught:
        await tt.publish_media(ctx, "Public?", ("https://cdn.example.com/1.jpg",))
    assert caught.value.status == 403 and "SOCIALCRM_TIKTOK_AUDITED" in str(caught.value)
    raw = await client.post(
        f"{live_sandbox.url}/tiktok/v2/post/publish/video/init/",
        headers={"Authorization": f"Bearer {ctx.access_token}"},
        json={
            "post_info": {"title": "x", "privacy_level": "PUBLIC_TO_EVERYONE"},
            "source_info": {
                "source": "PULL_FROM_URL",
                "video_url": "https://cdn.example.com/v.mp4",
            },
        },
    )
    assert raw.status_code == 403
    assert raw.json()["error"]["code"] == "unaudited_client_can_only_post_to_private_accounts"
    assert len(await tt.posts(ctx, "ada-open-id-0001")) == 1


async def test_tiktok_audited_app_posts_publicly_once_processed(
    live_sandbox: RunningSandbox, client: httpx.AsyncClient
) -> None:
    registered = live_sandbox.control.post(
        "/apps",
        json={
            "network": "tiktok",
            "redirect_uris": [redirect_for("tiktok")],
            "client_id": "audited-tiktok-app",
            "client_secret": "audited-secret",
            "audited": True,
        },
    )
    assert registered.status_code == 201, registered.text
    tt, ctx = await connect(
        live_sandbox,
        client,
        "tiktok",
        options=NetworkOptions(tiktok_audited=True, poll_interval_s=0),
        app=AppCredentials("audited-tiktok-app", "audited-secret"),
    )
    posted = await tt.publish_media(ctx, "Engines at dawn", ("https://cdn.example.com/1.jpg",))
    assert posted.id.isdigit() and posted.url.endswith(f"/video/{posted.id}")
    assert posted.ref.startswith("v_pub_url~")
    assert (await tt.metrics(ctx, posted.id)).text == "Engines at dawn"
    clip = await tt.publish_media(ctx, "A clip", ("https://cdn.example.com/clip.mp4",))
    assert clip.id != posted.id and clip.id.isdigit()


async def test_tiktok_pkce_challenge_is_hex(
    live_sandbox: RunningSandbox, client: httpx.AsyncClient
) -> None:
    """RFC 7636's base64url challenge is refused; the adapter's hex one connects."""
    params = {
        "client_key": "test-tiktok-client",
        "response_type": "code",
        "redirect_uri": redirect_for("tiktok"),
        "scope": "user.info.basic",
        "state": "s",
        "code_challenge": make_pkce().challenge,
        "code_challenge_method": "S256",
    }
    page = await client.get(f"{live_sandbox.url}/tiktok/v2/auth/authorize/", params=params)
    assert page.status_code == 400 and "hex encoding of SHA256" in page.text
    tt, ctx = await connect(live_sandbox, client, "tiktok")
    assert (await tt.me(ctx)).handle == "ada.codes"


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
    fb, ctx = await connect_page(live_sandbox, client)
    alien = PostData("x", "not_a_graph id", "1", "ada", "", None)
    with pytest.raises(ProfileGone):
        await fb.reply(ctx, alien, "hello")

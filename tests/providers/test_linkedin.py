"""LinkedIn adapter against documented example payloads (fixtures/linkedin)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
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
    Provider,
    RateLimited,
    TokenSet,
    TransientProviderError,
)
from socialcrm.providers.linkedin import DEFAULT_VERSION, LinkedInProvider
from socialcrm.providers.outcomes import (
    RequestRejected,
    ScopeMissing,
    TokenExpired,
    VersionRetired,
)

from .fakes import Answer, FakeNetwork, body, fixture, form

pytestmark = pytest.mark.anyio

API = "https://api.linkedin.test"
AUTH = "https://www.linkedin.test"
NOW = datetime(2026, 3, 4, 22, 30, tzinfo=UTC)
APP = AppCredentials("li-client", "li-secret")
SHARE = "urn:li:share:6988933330315272192"
ORG = "urn:li:organization:1337"  # the adapter percent-encodes it on the wire


@pytest.fixture(autouse=True)
def frozen_time() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def li(http: httpx.AsyncClient) -> LinkedInProvider:
    return LinkedInProvider(http, API, auth_base_url=AUTH)


def ctx() -> CallContext:
    return CallContext(access_token="li-access", user_id="urn:li:person:782bbtaQ", handle="")


def ok(name: str, status: int = 200, **headers: str) -> Answer:
    return Answer(status, fixture(f"linkedin/{name}"), headers)


async def test_is_a_provider_without_dms_or_mentions(li: LinkedInProvider) -> None:
    assert isinstance(li, Provider)
    assert not li.supports(Capability.DM) and not li.supports(Capability.MENTIONS)
    assert not li.supports(Capability.LOOKUP_BY_EMAIL)


async def test_me_from_openid_userinfo(li: LinkedInProvider, net: FakeNetwork) -> None:
    net.on("GET", "/v2/userinfo", ok("userinfo"))
    me = await li.me(ctx())
    assert (me.user_id, me.display_name, me.email) == (
        "urn:li:person:782bbtaQ",
        "John Doe",
        "doe@email.com",
    )
    request = net.calls("GET", "/v2/userinfo")[0]
    assert request.headers["authorization"] == "Bearer li-access"


async def test_lookup_organisation_by_vanity_name_with_followers(
    li: LinkedInProvider, net: FakeNetwork
) -> None:
    net.on("GET", "/rest/organizations", ok("organizations_by_vanity"))
    net.on("GET", f"/rest/networkSizes/{ORG}", ok("network_size"))
    org = await li.lookup_handle(ctx(), "https://www.linkedin.com/company/linkedin/")
    assert (org.user_id, org.handle, org.display_name, org.followers) == (
        "urn:li:organization:1337",
        "linkedin",
        "LinkedIn",
        26219943,
    )
    assert org.location == "Sunnyvale, US" and org.links == ("https://www.linkedin.com",)
    lookup = net.calls("GET", "/rest/organizations")[0]
    assert lookup.url.params["q"] == "vanityName" and lookup.url.params["vanityName"] == "linkedin"
    assert lookup.headers["linkedin-version"] and lookup.headers["x-restli-protocol-version"]
    size = net.calls("GET", f"/rest/networkSizes/{ORG}")[0]
    assert size.url.params["edgeType"] == "COMPANY_FOLLOWED_BY_MEMBER"
    assert size.url.raw_path.startswith(b"/rest/networkSizes/urn%3Ali%3Aorganization%3A1337?")


async def test_unknown_vanity_name_is_gone(li: LinkedInProvider, net: FakeNetwork) -> None:
    net.on("GET", "/rest/organizations", ok("organizations_empty"))
    with pytest.raises(ProfileGone):
        await li.lookup_handle(ctx(), "no-such-company")


async def test_members_cannot_be_looked_up(li: LinkedInProvider, net: FakeNetwork) -> None:
    with pytest.raises(NotSupported):
        await li.lookup_handle(ctx(), "https://www.linkedin.com/in/johndoe")
    with pytest.raises(NotSupported):
        await li.lookup_user_id(ctx(), "urn:li:person:782bbtaQ")
    assert net.requests == []


async def test_lookup_by_id_uses_organizations_lookup(
    li: LinkedInProvider, net: FakeNetwork
) -> None:
    """``organizations/{id}`` is for administrators; ``organizationsLookup`` (BATCH_GET, lookup
    fields, no description) is what any member may read."""
    net.on("GET", "/rest/organizationsLookup", ok("organizations_lookup"))
    net.on("GET", f"/rest/networkSizes/{ORG}", ok("network_size"))
    org = await li.lookup_user_id(ctx(), "urn:li:organization:1337")
    assert (org.handle, org.display_name, org.bio) == ("linkedin", "LinkedIn", "")
    assert net.calls("GET", "/rest/organizationsLookup")[0].url.query == b"ids=List(1337)"
    net.on("GET", "/rest/organizationsLookup", ok("organizations_lookup_missing"))
    with pytest.raises(ProfileGone):
        await li.lookup_user_id(ctx(), "42")


async def test_posts_by_author(li: LinkedInProvider, net: FakeNetwork) -> None:
    net.on("GET", "/rest/posts", ok("posts_by_author"))
    posts = await li.posts(ctx(), "urn:li:organization:1337")
    assert [(p.id, p.text, p.author_user_id) for p in posts] == [
        (SHARE, "Sample text Post", "urn:li:organization:1337")
    ]
    assert posts[0].created_at == datetime(2022, 10, 18, 23, 19, 22, 587000, tzinfo=UTC)
    assert net.calls("GET", "/rest/posts")[0].url.params["author"] == "urn:li:organization:1337"
    # Rest.li 2.0: the URN travels percent-encoded, colons included
    assert b"author=urn%3Ali%3Aorganization%3A1337" in net.calls("GET", "/rest/posts")[0].url.query


async def test_refused_posts_say_what_linkedin_requires(
    li: LinkedInProvider, net: FakeNetwork
) -> None:
    net.on("GET", "/rest/posts", ok("access_denied", 403))
    with pytest.raises(ScopeMissing) as member:
        await li.posts(ctx(), "urn:li:person:782bbtaQ")
    assert member.value.scope == "r_member_social"
    with pytest.raises(RequestRejected) as organisation:
        await li.posts(ctx(), "urn:li:organization:1337")
    assert not isinstance(organisation.value, ProfileGone)
    assert "administrators" in str(organisation.value)


async def test_every_rest_call_names_the_configured_version(
    http: httpx.AsyncClient, net: FakeNetwork
) -> None:
    net.on("GET", "/rest/organizations", ok("organizations_by_vanity"))
    net.on("GET", f"/rest/networkSizes/{ORG}", ok("network_size"))
    await LinkedInProvider(http, API).lookup_handle(ctx(), "linkedin")
    await LinkedInProvider(http, API, version="202611").lookup_handle(ctx(), "linkedin")
    sent = [r.headers["linkedin-version"] for r in net.calls("GET", "/rest/organizations")]
    assert sent == [DEFAULT_VERSION, "202611"]
    assert DEFAULT_VERSION != "202410"  # retired by LinkedIn in 2025


async def test_a_retired_version_is_a_typed_error_naming_the_setting(
    li: LinkedInProvider, net: FakeNetwork
) -> None:
    net.on("GET", "/rest/organizations", ok("version_retired", 426))
    with pytest.raises(VersionRetired) as caught:
        await li.lookup_handle(ctx(), "linkedin")
    assert caught.value.setting == "SOCIALCRM_LINKEDIN_VERSION"
    assert "SOCIALCRM_LINKEDIN_VERSION" in str(caught.value)
    assert isinstance(caught.value, RequestRejected) and caught.value.status == 426


async def test_metrics_combine_post_and_social_actions(
    li: LinkedInProvider, net: FakeNetwork
) -> None:
    net.on("GET", f"/rest/posts/{SHARE}", ok("post"))
    net.on("GET", f"/rest/socialActions/{SHARE}", ok("social_actions"))
    post = await li.metrics(ctx(), SHARE)
    assert (post.likes, post.replies, post.text) == (7, 3, "Sample text Post")


async def test_publish_reads_the_urn_from_x_restli_id(
    li: LinkedInProvider, net: FakeNetwork
) -> None:
    net.on("POST", "/rest/posts", Answer(201, None, {"x-restli-id": "urn:li:share:7"}))
    post = await li.publish(ctx(), "Hello LinkedIn")
    assert post.id == "urn:li:share:7" and post.author_user_id == "urn:li:person:782bbtaQ"
    sent = body(net.calls("POST", "/rest/posts")[0])
    assert sent["author"] == "urn:li:person:782bbtaQ" and sent["commentary"] == "Hello LinkedIn"
    assert sent["lifecycleState"] == "PUBLISHED" and sent["visibility"] == "PUBLIC"


async def test_publish_without_urn_is_transient(li: LinkedInProvider, net: FakeNetwork) -> None:
    net.on("POST", "/rest/posts", Answer(201, None))
    with pytest.raises(TransientProviderError):
        await li.publish(ctx(), "x")


async def test_reply_is_a_comment(li: LinkedInProvider, net: FakeNetwork) -> None:
    path = f"/rest/socialActions/{SHARE}/comments"
    net.on("POST", path, ok("comment_created", 201))
    parent = (await _a_post(li, net))[0]
    comment = await li.reply(ctx(), parent, "Great post!")
    assert comment.id.startswith("urn:li:comment:") and comment.in_reply_to_id == SHARE
    assert body(net.calls("POST", path)[0])["message"] == {"text": "Great post!"}


async def _a_post(li: LinkedInProvider, net: FakeNetwork) -> list:  # type: ignore[type-arg]
    net.on("GET", "/rest/posts", ok("posts_by_author"))
    return await li.posts(ctx(), "urn:li:organization:1337")


async def test_bare_429_waits_until_utc_midnight(li: LinkedInProvider, net: FakeNetwork) -> None:
    net.on("GET", "/v2/userinfo", ok("throttled", 429))
    with pytest.raises(RateLimited) as caught:
        await li.me(ctx())
    assert caught.value.retry_at == datetime(2026, 3, 5, tzinfo=UTC)


async def test_retry_after_wins_over_the_daily_window(
    li: LinkedInProvider, net: FakeNetwork
) -> None:
    net.on("GET", "/v2/userinfo", Answer(429, fixture("linkedin/throttled"), {"Retry-After": "30"}))
    with pytest.raises(RateLimited) as caught:
        await li.me(ctx())
    assert (caught.value.retry_at - NOW).total_seconds() == 30


async def test_invalid_token_asks_for_a_refresh(li: LinkedInProvider, net: FakeNetwork) -> None:
    net.on("GET", "/v2/userinfo", ok("invalid_token", 401))
    with pytest.raises(TokenExpired):
        await li.me(ctx())


async def test_oauth_code_refresh_and_revoke(li: LinkedInProvider, net: FakeNetwork) -> None:
    url = li.authorization_url(
        APP, redirect_uri="https://crm/cb", state="s1", code_verifier="v" * 64, scopes=("openid",)
    )
    query = parse_qs(urlsplit(url).query)
    assert url.startswith(f"{AUTH}/oauth/v2/authorization?")
    # LinkedIn documents PKCE only for native apps it enables on request: a web app sends none
    assert query["client_id"] == ["li-client"] and "code_challenge" not in query
    net.on("POST", "/oauth/v2/accessToken", ok("token"))
    tokens = await li.exchange_code(
        APP, code="c1", redirect_uri="https://crm/cb", code_verifier="v" * 64
    )
    assert tokens.refresh_token == "AQWAft_WjYZKwuWXLC5hQlghgTam"
    assert tokens.expires_at is not None and (tokens.expires_at - NOW).days == 60
    sent = form(net.calls("POST", "/oauth/v2/accessToken")[0])
    assert sent["client_secret"] == "li-secret" and "code_verifier" not in sent
    await li.refresh(APP, "AQWAft_WjYZKwuWXLC5hQlghgTam")
    assert form(net.calls("POST", "/oauth/v2/accessToken")[1])["grant_type"] == "refresh_token"
    net.on("POST", "/oauth/v2/revoke", Answer(200, None))
    await li.revoke(APP, TokenSet("li-access", "r"))
    assert form(net.calls("POST", "/oauth/v2/revoke")[0])["token"] == "li-access"

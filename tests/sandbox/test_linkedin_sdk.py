"""LinkedIn's own client (``linkedin-api-client``, pinned in the dev extra) judges the sandbox
and the adapter: it completes OAuth at the sandbox, makes every call the adapter makes with its
Rest.li 2.0 encoding and ``LinkedIn-Version`` header, and the adapter's requests must match the
ones it prepares."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import requests
from linkedin_api.clients.auth.client import AuthClient
from linkedin_api.clients.restli.client import RestliClient

from socialcrm.providers.base import CallContext
from socialcrm.providers.linkedin import DEFAULT_VERSION, LinkedInProvider
from socialcrm_sandbox.testing import RunningSandbox

CLIENT = ("test-linkedin-client", "test-linkedin-secret")
REDIRECT = "http://testserver/oauth/callback/linkedin"
ORG_ID = 2414183
ORG_URN = f"urn:li:organization:{ORG_ID}"
SCOPES = ["openid", "profile", "r_organization_social", "w_member_social", "r_member_social"]


class _ToSandbox(requests.adapters.HTTPAdapter):
    """Sends the SDK's requests for LinkedIn's hosts to the sandbox's ``/linkedin`` instead."""

    def __init__(self, sandbox_url: str) -> None:
        super().__init__()
        self.target = f"{sandbox_url}/linkedin"

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        url = request.url or ""
        for host in ("https://api.linkedin.com", "https://www.linkedin.com"):
            if url.startswith(host):
                request.url = self.target + url[len(host) :]
        return super().send(request, **kwargs)


def _routed(session: requests.Session, sandbox: RunningSandbox) -> None:
    session.mount("https://", _ToSandbox(sandbox.url))


@pytest.fixture
def restli(live_sandbox: RunningSandbox) -> Iterator[RestliClient]:
    client = RestliClient()
    _routed(client.session, live_sandbox)
    yield client
    client.session.close()


def sdk_token(sandbox: RunningSandbox, member: str = "ada-lovelace") -> str:
    """OAuth as LinkedIn's client does it: its auth URL (no PKCE), consent, code exchange."""
    auth = AuthClient(client_id=CLIENT[0], client_secret=CLIENT[1], redirect_url=REDIRECT)
    _routed(auth.session, sandbox)
    url = auth.generate_member_auth_url(scopes=SCOPES, state="sdk-state")
    routed = url.replace("https://www.linkedin.com", f"{sandbox.url}/linkedin")
    page = httpx.get(routed)
    assert page.status_code == 200, page.text  # the consent page, not "PKCE is required"
    form = {k: v[0] for k, v in parse_qs(urlsplit(routed).query).items()}
    decision = httpx.post(
        routed.split("?", 1)[0], data={**form, "account": member, "decision": "allow"}
    )
    assert decision.status_code == 303, decision.text
    code = parse_qs(urlsplit(decision.headers["location"]).query)["code"][0]
    answer = auth.exchange_auth_code_for_access_token(code)
    assert answer.status_code == 200 and answer.refresh_token, answer.response.text
    auth.session.close()
    return str(answer.access_token)


def test_the_sdk_connects_without_pkce_and_reads_organisations(
    live_sandbox: RunningSandbox, restli: RestliClient
) -> None:
    token = sdk_token(live_sandbox)
    found = restli.finder(
        resource_path="/organizations",
        finder_name="vanityName",
        query_params={"vanityName": "analytical-engines"},
        access_token=token,
        version_string=DEFAULT_VERSION,
    )
    assert found.status_code == 200 and found.elements[0]["id"] == ORG_ID
    looked_up = restli.batch_get(
        resource_path="/organizationsLookup",
        ids=[ORG_ID],
        access_token=token,
        version_string=DEFAULT_VERSION,
    )
    assert looked_up.status_code == 200
    assert looked_up.results[str(ORG_ID)]["vanityName"] == "analytical-engines"
    size = restli.get(
        resource_path="/networkSizes/{urn}",
        path_keys={"urn": ORG_URN},
        query_params={"edgeType": "COMPANY_FOLLOWED_BY_MEMBER"},
        access_token=token,
        version_string=DEFAULT_VERSION,
    )
    assert size.status_code == 200 and size.entity["firstDegreeSize"] == 5400


def test_the_sdk_publishes_comments_and_reads_posts(
    live_sandbox: RunningSandbox, restli: RestliClient
) -> None:
    token = sdk_token(live_sandbox)
    posts = restli.finder(
        resource_path="/posts",
        finder_name="author",
        query_params={"author": ORG_URN},
        access_token=token,
        version_string=DEFAULT_VERSION,
    )
    assert posts.status_code == 200, posts.response.text
    share = posts.elements[0]["id"]
    created = restli.create(
        resource_path="/posts",
        entity={
            "author": "urn:li:person:adaLv9x",
            "commentary": "Posted by LinkedIn's own client",
            "visibility": "PUBLIC",
            "distribution": {"feedDistribution": "MAIN_FEED"},
            "lifecycleState": "PUBLISHED",
        },
        access_token=token,
        version_string=DEFAULT_VERSION,
    )
    assert created.status_code == 201 and created.entity_id.startswith("urn:li:share:")
    read = restli.get(
        resource_path="/posts/{id}",
        path_keys={"id": created.entity_id},
        access_token=token,
        version_string=DEFAULT_VERSION,
    )
    assert read.entity["commentary"] == "Posted by LinkedIn's own client"
    comment = restli.create(
        resource_path="/socialActions/{urn}/comments",
        path_keys={"urn": share},
        entity={
            "actor": "urn:li:person:adaLv9x",
            "object": share,
            "message": {"text": "via the SDK"},
        },
        access_token=token,
        version_string=DEFAULT_VERSION,
    )
    assert comment.status_code == 201, comment.response.text
    actions = restli.get(
        resource_path="/socialActions/{urn}",
        path_keys={"urn": share},
        access_token=token,
        version_string=DEFAULT_VERSION,
    )
    assert actions.entity["commentsSummary"]["aggregatedTotalComments"] == 1


def test_the_sdk_sees_426_for_a_retired_version(
    live_sandbox: RunningSandbox, restli: RestliClient
) -> None:
    token = sdk_token(live_sandbox)
    answer = restli.batch_get(
        resource_path="/organizationsLookup",
        ids=[ORG_ID],
        access_token=token,
        version_string="202410",
    )
    assert answer.status_code == 426
    assert answer.response.json()["code"] == "NONEXISTENT_VERSION"


def _sdk_request(call: str, token: str) -> requests.PreparedRequest:
    """The request the SDK would send, captured instead of sent."""
    captured: list[requests.PreparedRequest] = []

    class _Capture(requests.adapters.HTTPAdapter):
        def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
            captured.append(request)
            answer = requests.Response()
            answer.status_code, answer._content = 200, b"{}"
            return answer

    client = RestliClient()
    client.session.mount("https://", _Capture())
    if call == "lookup_user_id":
        client.batch_get(
            resource_path="/organizationsLookup",
            ids=[str(ORG_ID)],
            access_token=token,
            version_string=DEFAULT_VERSION,
        )
    else:
        client.finder(
            resource_path="/posts",
            finder_name="author",
            query_params={"author": ORG_URN, "count": 10},
            access_token=token,
            version_string=DEFAULT_VERSION,
        )
    return captured[0]


@pytest.mark.anyio
@pytest.mark.parametrize("call", ["lookup_user_id", "posts"])
async def test_the_adapter_sends_what_the_sdk_sends(
    live_sandbox: RunningSandbox, call: str
) -> None:
    """Same path, same Rest.li-encoded query (order aside), same version headers."""
    token = sdk_token(live_sandbox)
    sent: list[httpx.Request] = []

    async def record(request: httpx.Request) -> None:
        if "/rest/" in request.url.path and "networkSizes" not in request.url.path:
            sent.append(request)

    async with httpx.AsyncClient(event_hooks={"request": [record]}) as http:
        adapter = LinkedInProvider(http, f"{live_sandbox.url}/linkedin")
        ctx = CallContext(access_token=token)
        if call == "lookup_user_id":
            await adapter.lookup_user_id(ctx, ORG_URN)
        else:
            await adapter.posts(ctx, ORG_URN)
    ours, theirs = sent[0], _sdk_request(call, token)
    their_url = urlsplit(theirs.url or "")
    assert ours.url.path.removeprefix("/linkedin") == their_url.path
    assert sorted(ours.url.query.decode().split("&")) == sorted(their_url.query.split("&"))
    for header in ("LinkedIn-Version", "X-RestLi-Protocol-Version"):
        assert ours.headers[header] == theirs.headers[header]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"

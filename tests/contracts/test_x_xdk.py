"""X judged by xdk, X's official Python SDK generated from X's OpenAPI specification: every
request the adapter sends is an endpoint of the spec with parameters and values the spec
lists, every request body and every sandbox answer validates into the spec's models with no
field the spec does not declare, and xdk's own client reads the sandbox."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from xdk import Client
from xdk import schemas as xdk_schemas

from socialcrm.connections.tokens import open_account
from socialcrm.core.db import Database
from socialcrm.providers.base import CallContext
from socialcrm.providers.registry import build_provider
from socialcrm.providers.x import XProvider
from socialcrm.tenancy.models import Tenant
from tests.connections.flow import connect, register_app
from tests.contracts.xdk_spec import endpoint_for, unknown_fields

pytestmark = pytest.mark.usefixtures("sandbox")
# X's OpenAPI specification 2.167 (what xdk is generated from) speaks of posts where X's API
# reference speaks of tweets: "post.fields" for "tweet.fields", "referenced_posts" for
# "referenced_tweets". The adapter sends the reference's names and reads both vocabularies;
# docs/providers.md records the difference, which only the live API can settle.
ALIASES = {"tweet.fields": "post.fields"}
VALUE_ALIASES = {"referenced_tweets": "referenced_posts"}
# A field of the object is accepted where the signature's choices omit it (the DmEvent object
# has sender_id, which X's DM reference lists among dm_event.fields; the generated choices do not).
OBJECT_OF = {
    "post.fields": xdk_schemas.Post,
    "user.fields": xdk_schemas.User,
    "dm_event.fields": xdk_schemas.DmEvent,
}


@dataclass
class Call:
    verb: str
    path: str
    params: dict[str, str]
    body: Any
    status: int = 0
    answer: Any = None


@dataclass
class Recorder:
    calls: list[Call] = field(default_factory=list)

    async def on_request(self, request: httpx.Request) -> None:
        body = json.loads(request.content) if request.content else None
        path = request.url.path.split("/x", 1)[1]
        self.calls.append(Call(request.method, path, dict(request.url.params), body))

    async def on_response(self, response: httpx.Response) -> None:
        await response.aread()
        self.calls[-1].status, self.calls[-1].answer = response.status_code, response.json()


@pytest.fixture
def ada(api: TestClient, database: Database) -> CallContext:
    register_app(api, "x")
    connected = connect(api, "x", "ada")
    with database.session(system=True) as session:
        tenant = session.query(Tenant).filter_by(name="Tenant A").one().id
    return open_account(database, tenant, int(connected["id"])).ctx


def post_as(sandbox: object, author: str, text: str) -> str:
    answer = httpx.post(
        f"{sandbox.url}/_sandbox/posts",  # type: ignore[attr-defined]
        json={"network": "x", "author_handle": author, "text": text},
    )
    return str(answer.json()["id"])


def test_every_adapter_request_and_sandbox_answer_is_in_xs_spec(
    sandbox: object, ada: CallContext
) -> None:
    """With the sandbox answering in the specification's vocabulary."""
    httpx.post(f"{sandbox.url}/_sandbox/config", json={"x_vocabulary": "spec"}).raise_for_status()  # type: ignore[attr-defined]
    mention = post_as(sandbox, "grace", "@ada the spec says hello")
    read: dict[str, object] = {}
    recorder = Recorder()

    async def everything() -> None:
        hooks = {"request": [recorder.on_request], "response": [recorder.on_response]}
        async with httpx.AsyncClient(event_hooks=hooks) as http:
            x = build_provider("x", http, sandbox_url=sandbox.url)  # type: ignore[attr-defined]
            assert isinstance(x, XProvider)
            await x.me(ada)
            grace = await x.lookup_handle(ada, "@grace")
            read["post_count"] = grace.post_count
            await x.lookup_user_id(ada, grace.user_id)
            await x.posts(ada, grace.user_id)
            page = await x.mentions(ada, None)
            parent = next(p for p in page.posts if p.id == mention)
            read["likes"] = (await x.metrics(ada, mention)).likes
            await x.publish(ada, "Hello from the contract test")
            await x.reply(ada, parent, "Thanks Grace")
            await x.send_dm(ada, grace.user_id, "A direct message")
            read["dms"] = [m.text for m in await x.dm_history(ada, grace.user_id)]

    asyncio.run(everything())
    assert read["post_count"] is not None and read["likes"] == 0  # read in either vocabulary
    assert read["dms"] == ["A direct message"]
    assert len(recorder.calls) >= 10
    problems: list[str] = []
    for call in recorder.calls:
        endpoint = endpoint_for(call.verb, call.path)
        if endpoint is None:
            problems.append(f"{call.verb} {call.path}: not in X's spec")
            continue
        for name, value in call.params.items():
            wire = ALIASES.get(name, name)
            allowed = endpoint.params.get(wire, "missing")
            if allowed == "missing":
                problems.append(f"{endpoint.name}: no parameter {name!r}")
            elif allowed is not None:
                known = set(allowed) | set(
                    OBJECT_OF[wire].model_fields if wire in OBJECT_OF else ()
                )
                problems += [
                    f"{endpoint.name}: {name}={v!r} is neither a value nor a field in the spec"
                    for v in value.split(",")
                    if VALUE_ALIASES.get(v, v) not in known
                ]
        if endpoint.request is not None:
            problems += unknown_fields(
                endpoint.request.model_validate(call.body), f"{endpoint.name} body"
            )
        assert call.status < 400, (call.path, call.answer)
        if endpoint.response is not None:
            parsed = endpoint.response.model_validate(call.answer)
            problems += unknown_fields(parsed, endpoint.name)
    assert problems == []


def test_xdks_own_client_reads_the_sandbox(sandbox: object, ada: CallContext) -> None:
    httpx.post(f"{sandbox.url}/_sandbox/config", json={"x_vocabulary": "spec"}).raise_for_status()  # type: ignore[attr-defined]
    client = Client(base_url=f"{sandbox.url}/x", access_token=ada.access_token)  # type: ignore[attr-defined]
    me = client.users.get_me(user_fields=["created_at", "public_metrics"])
    assert me.data is not None and me.data.username == "ada"
    grace = client.users.get_by_username("grace", user_fields=["description"])
    assert grace.data is not None and grace.data.id
    tweet = post_as(sandbox, "grace", "@ada read me with xdk")
    got = client.posts.get_by_id(tweet, post_fields=["created_at", "author_id", "public_metrics"])
    assert got.data is not None and got.data.text == "@ada read me with xdk"

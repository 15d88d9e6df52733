"""Bluesky judged by the AT Protocol's lexicons as the atproto SDK (PyPI ``atproto``) models
them: every XRPC call the adapter makes names real parameters of its lexicon, every body it
sends validates as the lexicon's input, and every sandbox answer validates (strictly, with no
field the lexicon does not declare) as the lexicon's output. The real reference network
(``tests/atproto``) is the other judge."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from atproto_client import models as m
from fastapi.testclient import TestClient
from pydantic import BaseModel

from socialcrm.connections.tokens import open_account
from socialcrm.core.db import Database
from socialcrm.providers.base import AppCredentials, CallContext
from socialcrm.providers.bluesky import BlueskyProvider
from socialcrm.providers.registry import build_provider
from socialcrm.tenancy.models import Tenant

pytestmark = pytest.mark.usefixtures("sandbox")

# NSID -> (query parameters model, input model, output model)
LEXICONS: dict[str, tuple[type[BaseModel] | None, type[BaseModel] | None, type[BaseModel]]] = {
    "com.atproto.server.createSession": (
        None,
        m.ComAtprotoServerCreateSession.Data,
        m.ComAtprotoServerCreateSession.Response,
    ),
    "com.atproto.server.getSession": (None, None, m.ComAtprotoServerGetSession.Response),
    "com.atproto.server.refreshSession": (None, None, m.ComAtprotoServerRefreshSession.Response),
    "com.atproto.identity.resolveHandle": (
        m.ComAtprotoIdentityResolveHandle.Params,
        None,
        m.ComAtprotoIdentityResolveHandle.Response,
    ),
    "app.bsky.actor.getProfile": (None, None, m.AppBskyActorDefs.ProfileViewDetailed),
    "app.bsky.actor.searchActors": (
        m.AppBskyActorSearchActors.Params,
        None,
        m.AppBskyActorSearchActors.Response,
    ),
    "app.bsky.feed.getAuthorFeed": (
        m.AppBskyFeedGetAuthorFeed.Params,
        None,
        m.AppBskyFeedGetAuthorFeed.Response,
    ),
    "app.bsky.feed.getPosts": (m.AppBskyFeedGetPosts.Params, None, m.AppBskyFeedGetPosts.Response),
    "app.bsky.notification.listNotifications": (
        m.AppBskyNotificationListNotifications.Params,
        None,
        m.AppBskyNotificationListNotifications.Response,
    ),
    "com.atproto.repo.createRecord": (
        None,
        m.ComAtprotoRepoCreateRecord.Data,
        m.ComAtprotoRepoCreateRecord.Response,
    ),
    "chat.bsky.convo.getConvoForMembers": (
        m.ChatBskyConvoGetConvoForMembers.Params,
        None,
        m.ChatBskyConvoGetConvoForMembers.Response,
    ),
    "chat.bsky.convo.sendMessage": (
        None,
        m.ChatBskyConvoSendMessage.Data,
        m.ChatBskyConvoDefs.MessageView,
    ),
}


@dataclass
class Call:
    nsid: str
    params: dict[str, list[str]]
    body: Any
    status: int = 0
    answer: Any = None


@dataclass
class Recorder:
    calls: list[Call] = field(default_factory=list)

    async def on_request(self, request: httpx.Request) -> None:
        if "/xrpc/" not in request.url.path:
            return
        nsid = request.url.path.rsplit("/xrpc/", 1)[1]
        params: dict[str, list[str]] = {}
        for key, value in request.url.params.multi_items():
            params.setdefault(key, []).append(value)
        self.calls.append(
            Call(nsid, params, json.loads(request.content) if request.content else None)
        )

    async def on_response(self, response: httpx.Response) -> None:
        if "/xrpc/" not in response.request.url.path:
            return
        await response.aread()
        self.calls[-1].status, self.calls[-1].answer = response.status_code, response.json()


def extras(model: BaseModel, where: str) -> list[str]:
    found = [f"{where}.{k}" for k in (model.model_extra or {})]
    for name in type(model).model_fields:
        value = getattr(model, name)
        for i, item in enumerate(value if isinstance(value, list) else [value]):
            if isinstance(item, BaseModel):
                found += extras(item, f"{where}.{name}[{i}]")
    return found


def test_every_xrpc_call_fits_its_lexicon(
    api: TestClient, database: Database, sandbox: object
) -> None:
    connected = api.post(
        "/api/connections",
        json={
            "provider": "bluesky",
            "identifier": "ada.bsky.social",
            "app_password": "app-password",
        },
    ).json()
    with database.session(system=True) as session:
        tenant = session.query(Tenant).filter_by(name="Tenant A").one().id
    assert open_account(database, tenant, int(connected["id"])).ctx.access_token
    httpx.post(
        f"{sandbox.url}/_sandbox/posts",  # type: ignore[attr-defined]
        json={
            "network": "bluesky",
            "author_handle": "grace.bsky.social",
            "text": "@ada.bsky.social hi",
        },
    ).raise_for_status()
    recorder = Recorder()

    async def everything() -> None:
        hooks = {"request": [recorder.on_request], "response": [recorder.on_response]}
        async with httpx.AsyncClient(event_hooks=hooks) as http:
            bsky = build_provider("bluesky", http, sandbox_url=sandbox.url)  # type: ignore[attr-defined]
            assert isinstance(bsky, BlueskyProvider)
            tokens = await bsky.login_with_app_password("ada.bsky.social", "app-password")
            ctx = CallContext(access_token=tokens.access_token)
            me = await bsky.me(ctx)
            grace = await bsky.lookup_handle(ctx, "grace.bsky.social")
            await bsky.search_people(ctx, "grace")
            await bsky.posts(ctx, grace.user_id)
            page = await bsky.mentions(ctx, None)
            await bsky.metrics(ctx, page.posts[-1].id)
            ctx.user_id, ctx.handle = me.user_id, me.handle
            await bsky.publish(ctx, "Hello, lexicons")
            await bsky.reply(ctx, page.posts[-1], "Thanks!")
            await bsky.send_dm(ctx, grace.user_id, "A direct message")
            assert tokens.refresh_token
            await bsky.refresh(AppCredentials(""), tokens.refresh_token)

    asyncio.run(everything())
    assert {c.nsid for c in recorder.calls} >= set(LEXICONS) - {
        "com.atproto.identity.resolveHandle"
    }
    problems: list[str] = []
    for call in recorder.calls:
        if call.nsid not in LEXICONS:
            problems.append(f"{call.nsid}: not a method the adapter is checked for")
            continue
        params_model, input_model, output_model = LEXICONS[call.nsid]
        names = (
            {f.alias or n for n, f in params_model.model_fields.items()} if params_model else set()
        )
        names |= {"actor"} if call.nsid == "app.bsky.actor.getProfile" else set()
        problems += [f"{call.nsid}: no parameter {p!r}" for p in call.params if p not in names]
        if input_model is not None:
            problems += extras(input_model.model_validate(call.body), f"{call.nsid} input")
            if call.nsid == "com.atproto.repo.createRecord":
                record = {k: v for k, v in call.body["record"].items() if k != "$type"}
                problems += extras(
                    m.AppBskyFeedPost.Record.model_validate(record), "app.bsky.feed.post"
                )
        assert call.status == 200, (call.nsid, call.answer)
        problems += extras(output_model.model_validate(call.answer), f"{call.nsid} output")
    assert problems == [], "\n".join(problems)

"""YouTube judged by Google's own discovery document of the YouTube Data API v3 (bundled in
google-api-python-client, from PyPI): every request the adapter sends names a real method,
real parameters of the right types and a body of the request schema; every answer of the
sandbox fits the response schema; and Google's client itself drives the sandbox."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from fastapi.testclient import TestClient
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build

from socialcrm.connections.tokens import open_account
from socialcrm.core.db import Database
from socialcrm.providers.base import CallContext, PostData
from socialcrm.providers.registry import build_provider
from socialcrm.providers.youtube import YouTubeProvider
from socialcrm.tenancy.models import Tenant
from tests.connections.flow import connect, register_app
from tests.contracts.discovery import check_request, check_value, find_method, youtube_v3

pytestmark = pytest.mark.usefixtures("sandbox")
API_ROOT = "/youtube/"  # the sandbox's stand-in for https://youtube.googleapis.com/


@dataclass
class Recorded:
    method: str
    path: str
    params: dict[str, list[str]]
    body: Any
    status: int = 0
    answer: Any = None


@dataclass
class Recorder:
    calls: list[Recorded] = field(default_factory=list)

    async def on_request(self, request: httpx.Request) -> None:
        path = request.url.path.split(API_ROOT, 1)[1]
        body = json.loads(request.content) if request.content else None
        self.calls.append(
            Recorded(request.method, path, parse_qs(request.url.query.decode()), body)
        )

    async def on_response(self, response: httpx.Response) -> None:
        await response.aread()
        self.calls[-1].status = response.status_code
        self.calls[-1].answer = response.json()


@pytest.fixture
def account(api: TestClient, database: Database) -> CallContext:
    register_app(api, "youtube")
    connected = connect(api, "youtube", "adalovelace")
    with database.session(system=True) as session:
        tenant = session.query(Tenant).filter_by(name="Tenant A").one().id
    return open_account(database, tenant, int(connected["id"])).ctx


def run(sandbox: object, action: Callable[[YouTubeProvider], Awaitable[Any]]) -> Recorder:
    recorder = Recorder()

    async def go() -> None:
        hooks = {"request": [recorder.on_request], "response": [recorder.on_response]}
        async with httpx.AsyncClient(event_hooks=hooks) as http:
            provider = build_provider("youtube", http, sandbox_url=sandbox.url)  # type: ignore[attr-defined]
            assert isinstance(provider, YouTubeProvider)
            await action(provider)

    asyncio.run(go())
    return recorder


def sandbox_reply(sandbox: object, parent: str, text: str) -> None:
    httpx.post(
        f"{sandbox.url}/_sandbox/posts",  # type: ignore[attr-defined]
        json={
            "network": "youtube",
            "author_handle": "gracehopper",
            "text": text,
            "in_reply_to_id": parent,
        },
    ).raise_for_status()


def test_every_adapter_request_and_sandbox_answer_fits_the_discovery_document(
    sandbox: object, account: CallContext
) -> None:
    sandbox_reply(sandbox, "9802", "A reply in Grace's thread")
    doc = youtube_v3()

    async def everything(p: YouTubeProvider) -> None:
        await p.me(account)
        await p.lookup_handle(account, "@gracehopper")
        channel = await p.lookup_user_id(account, "UCgrace00000000000000000")
        videos = await p.posts(account, "UCada0000000000000000000")
        await p.metrics(account, videos[0].id)
        threads = await p.comment_threads(account, videos[0].id)
        await p.reply(account, videos[0], "A new thread")
        await p.reply(account, threads[-1], "A reply to a top-level comment")
        assert channel.handle

    recorder = run(sandbox, everything)
    assert {c.path for c in recorder.calls} >= {
        "youtube/v3/channels",
        "youtube/v3/playlistItems",
        "youtube/v3/videos",
        "youtube/v3/commentThreads",
        "youtube/v3/comments",
    }
    problems: list[str] = []
    for call in recorder.calls:
        problems += check_request(doc, call.method, call.path, call.params, call.body)
        method = find_method(doc, call.method, call.path)
        assert call.status < 400, (call.path, call.answer)
        if method is not None and "response" in method:
            problems += check_value(doc, method["response"], call.answer, method["id"])
    assert problems == []


def test_a_reply_to_a_reply_goes_into_the_top_level_thread(
    sandbox: object, account: CallContext
) -> None:
    """``CommentSnippet.parentId``: "The unique id of the top-level comment". Replying to a
    reply with the reply's own id as parent is refused by YouTube; the adapter must name
    the thread's top-level comment."""
    sandbox_reply(sandbox, "9802", "Grace answers herself")
    sent: list[PostData] = []

    async def reply_to_reply(p: YouTubeProvider) -> None:
        top = (await p.comment_threads(account, "v0000009801"))[-1]
        replies = (
            await p._call(
                account, "GET", "/comments", params={"part": "snippet", "parentId": top.id}
            )
        )["items"]
        reply_id = replies[0]["id"]
        assert reply_id.startswith(f"{top.id}.")
        parent = PostData(
            network="youtube",
            id=reply_id,
            author_user_id="",
            author_handle="",
            text="",
            created_at=None,
            url="",
            ref="comment",
        )
        sent.append(await p.reply(account, parent, "Thanks both!"))

    recorder = run(sandbox, reply_to_reply)
    insert = [c for c in recorder.calls if c.method == "POST"][-1]
    assert insert.status == 200, insert.answer
    assert insert.body["snippet"]["parentId"] == "Ugz9802"
    assert sent[0].in_reply_to_id == "Ugz9802"


def test_googles_own_client_drives_the_sandbox(sandbox: object, account: CallContext) -> None:
    youtube = build(
        "youtube",
        "v3",
        credentials=Credentials(account.access_token),
        static_discovery=True,
        client_options={"api_endpoint": f"{sandbox.url}{API_ROOT}"},  # type: ignore[attr-defined]
    )
    doc = youtube_v3()
    me = youtube.channels().list(part="snippet,statistics,contentDetails", mine=True).execute()
    assert [c["id"] for c in me["items"]] == ["UCada0000000000000000000"]
    by_handle = youtube.channels().list(part="snippet", forHandle="@gracehopper").execute()
    assert by_handle["items"][0]["id"] == "UCgrace00000000000000000"
    uploads = me["items"][0]["contentDetails"]["relatedPlaylists"]["uploads"]
    items = (
        youtube.playlistItems().list(part="snippet,contentDetails", playlistId=uploads).execute()
    )
    video = items["items"][0]["contentDetails"]["videoId"]
    stats = youtube.videos().list(part="snippet,statistics", id=video).execute()
    threads = youtube.commentThreads().list(part="snippet", videoId=video, order="time").execute()
    created = (
        youtube.comments()
        .insert(
            part="snippet",
            body={
                "snippet": {
                    "parentId": threads["items"][0]["id"],
                    "textOriginal": "via Google's client",
                }
            },
        )
        .execute()
    )
    for answer, method in (
        (me, "ChannelListResponse"),
        (items, "PlaylistItemListResponse"),
        (stats, "VideoListResponse"),
        (threads, "CommentThreadListResponse"),
        (created, "Comment"),
    ):
        assert check_value(doc, {"$ref": method}, answer, method) == []

"""The Bluesky adapter against the AT Protocol reference implementation, end to end.

Accounts live on a real PDS, profiles and notifications come from the real AppView (the
same code as bsky.social's), and every read and write here goes through ``BlueskyProvider``
exactly as a connected account would use it: app-password login, profile lookup with follower
counts, mentions and replies from notifications, a published post and a reply read back.

Not yet here: a CRM contact enriched from this network. The enrichment issue (in progress in
``socialcrm.enrichment``) owns that flow; once it lands, a test here should run its service
against ``atproto_network`` (the provider built with ``pds_url``/``appview_url`` below).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from socialcrm.providers.base import CallContext, Capability, PostData, ProfileGone
from socialcrm.providers.bluesky import BlueskyProvider

from .conftest import AtprotoNetwork

# The first test's setup may install the npm packages (minutes on a fresh machine) and
# starts the network (about 30 s).
pytestmark = [pytest.mark.anyio, pytest.mark.timeout(900)]

PASSWORD = "correct-horse-battery"
ENTRYWAY = "http://127.0.0.1:9"  # a host that does not hold the accounts: resolution must


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@dataclass(frozen=True)
class Account:
    did: str
    handle: str
    access: str


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


async def _xrpc(
    http: httpx.AsyncClient, base: str, nsid: str, token: str | None = None, **payload: Any
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    answer = await http.post(f"{base}/xrpc/{nsid}", json=payload, headers=headers)
    assert answer.status_code == 200, f"{nsid}: {answer.status_code} {answer.text}"
    return answer.json() if answer.content else {}


async def _create_account(http: httpx.AsyncClient, pds: str, name: str) -> Account:
    handle = f"{name}.test"
    made = await _xrpc(
        http,
        pds,
        "com.atproto.server.createAccount",
        handle=handle,
        email=f"{name}@example.com",
        password=PASSWORD,
    )
    return Account(made["did"], handle, made["accessJwt"])


async def _record(
    http: httpx.AsyncClient, pds: str, who: Account, collection: str, record: dict[str, Any]
) -> dict[str, Any]:
    return await _xrpc(
        http,
        pds,
        "com.atproto.repo.createRecord",
        who.access,
        repo=who.did,
        collection=collection,
        record={"$type": collection, **record},
    )


def _mention(text: str, handle: str, did: str) -> dict[str, Any]:
    """A post whose ``@handle`` carries the mention facet (what makes it a notification)."""
    start = text.encode().index(f"@{handle}".encode())
    return {
        "text": text,
        "createdAt": _now(),
        "facets": [
            {
                "index": {"byteStart": start, "byteEnd": start + len(handle) + 1},
                "features": [{"$type": "app.bsky.richtext.facet#mention", "did": did}],
            }
        ],
    }


@dataclass(frozen=True)
class World:
    alice: Account
    bob: Account
    carol: Account
    alice_post: dict[str, Any]
    bob_mention: dict[str, Any]
    bob_reply: dict[str, Any]


@pytest.fixture(scope="module")
async def world(atproto_network: AtprotoNetwork) -> AsyncIterator[World]:
    pds = atproto_network.pds
    async with httpx.AsyncClient(timeout=30.0) as http:
        suffix = datetime.now(UTC).strftime("%H%M%S%f")[-8:]
        alice, bob, carol = [
            await _create_account(http, pds, f"{n}{suffix}") for n in ("alice", "bob", "carol")
        ]
        await _xrpc(
            http,
            pds,
            "com.atproto.repo.putRecord",
            alice.access,
            repo=alice.did,
            collection="app.bsky.actor.profile",
            rkey="self",
            record={
                "$type": "app.bsky.actor.profile",
                "displayName": "Alice Liddell",
                "description": "Curiouser and curiouser",
            },
        )
        for follower in (bob, carol):
            await _record(
                http,
                pds,
                follower,
                "app.bsky.graph.follow",
                {"subject": alice.did, "createdAt": _now()},
            )
        alice_post = await _record(
            http,
            pds,
            alice,
            "app.bsky.feed.post",
            {"text": "Down the rabbit hole", "createdAt": _now()},
        )
        bob_mention = await _record(
            http,
            pds,
            bob,
            "app.bsky.feed.post",
            _mention(f"Tea party at four, @{alice.handle}?", alice.handle, alice.did),
        )
        ref = {"uri": alice_post["uri"], "cid": alice_post["cid"]}
        bob_reply = await _record(
            http,
            pds,
            bob,
            "app.bsky.feed.post",
            {"text": "Mind the rabbit", "createdAt": _now(), "reply": {"root": ref, "parent": ref}},
        )
        atproto_network.process()
        yield World(alice, bob, carol, alice_post, bob_mention, bob_reply)


@pytest.fixture
async def connected(
    atproto_network: AtprotoNetwork, world: World
) -> AsyncIterator[tuple[BlueskyProvider, CallContext]]:
    """Alice connects the way the Connect page does: an app password, then a session."""
    async with httpx.AsyncClient(timeout=30.0) as http:
        app_password = await _xrpc(
            http,
            atproto_network.pds,
            "com.atproto.server.createAppPassword",
            world.alice.access,
            name=f"socialcrm-{datetime.now(UTC).timestamp()}",
        )
        # Production configuration: an entryway that does not host Alice (bsky.social's role;
        # here nothing listens there), public reads to the AppView, and the PLC directory that
        # names her PDS: the login must find her PDS through her DID document.
        provider = BlueskyProvider(
            http, ENTRYWAY, appview_url=atproto_network.appview, plc_url=atproto_network.plc
        )
        tokens = await provider.login_with_app_password(
            world.alice.handle, app_password["password"]
        )
        assert tokens.service_url == atproto_network.pds.rstrip("/")
        assert tokens.scopes == ("com.atproto.appPass",)  # created without DM access
        yield provider, CallContext(access_token=tokens.access_token)


async def test_profile_lookup_with_follower_counts(
    connected: tuple[BlueskyProvider, CallContext], world: World
) -> None:
    provider, ctx = connected
    profile = await provider.lookup_handle(ctx, f"@{world.alice.handle}")
    assert (profile.user_id, profile.handle, profile.display_name) == (
        world.alice.did,
        world.alice.handle,
        "Alice Liddell",
    )
    assert profile.bio == "Curiouser and curiouser"
    assert (profile.followers, profile.following) == (2, 0)
    assert profile.post_count is not None and profile.post_count >= 1
    by_did = await provider.lookup_user_id(ctx, world.bob.did)
    assert (by_did.handle, by_did.following) == (world.bob.handle, 1)
    me = await provider.me(ctx)
    assert me.user_id == world.alice.did
    with pytest.raises(ProfileGone):
        await provider.lookup_handle(ctx, "nobody-here.test")


async def test_mentions_and_replies_from_notifications(
    connected: tuple[BlueskyProvider, CallContext], world: World
) -> None:
    provider, ctx = connected
    page = await provider.mentions(ctx, None)
    found = {(p.id, p.author_handle, p.in_reply_to_id) for p in page.posts}
    assert (world.bob_mention["uri"], world.bob.handle, None) in found
    assert (world.bob_reply["uri"], world.bob.handle, world.alice_post["uri"]) in found
    assert all(p.author_user_id == world.bob.did for p in page.posts)  # follows are not mentions
    again = await provider.mentions(ctx, page.cursor)
    assert again.posts == [] and again.cursor == page.cursor


async def test_publish_and_reply_are_read_back(
    atproto_network: AtprotoNetwork,
    connected: tuple[BlueskyProvider, CallContext],
    world: World,
) -> None:
    provider, ctx = connected
    assert provider.supports(Capability.PUBLISH) and provider.supports(Capability.REPLY)
    published = await provider.publish(ctx, "Hello from socialcrm's test suite")
    mention = PostData(
        "bluesky", world.bob_mention["uri"], world.bob.did, world.bob.handle, "", None
    )
    reply = await provider.reply(ctx, mention, "Wouldn't miss it")
    atproto_network.process()
    own = await provider.posts(ctx, world.alice.did, limit=20)
    assert published.id in [p.id for p in own]
    read_back = await provider.metrics(ctx, reply.id)
    assert (read_back.text, read_back.in_reply_to_id, read_back.author_user_id) == (
        "Wouldn't miss it",
        world.bob_mention["uri"],
        world.alice.did,
    )
    parent = await provider.metrics(ctx, world.bob_mention["uri"])
    assert parent.replies == 1
    assert (await provider.metrics(ctx, published.id)).text == "Hello from socialcrm's test suite"

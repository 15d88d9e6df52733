"""The live event bus: after commit only; in-process, or Redis pub/sub across processes."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest

from socialcrm.core.db import Database
from socialcrm.core.settings import get_settings
from socialcrm.listening import live
from tests.listening.factories import ingest, make_tenant, post


async def _first_event(tenant_id: int, act: object) -> dict[str, object]:
    stream = live.subscribe(tenant_id, heartbeat_s=0.1)
    first = await anext(stream)  # subscribed (a heartbeat at worst)
    assert first is None or isinstance(first, str)
    worker = threading.Thread(target=act)  # type: ignore[arg-type]
    worker.start()
    async for raw in stream:
        if raw is not None:
            await stream.aclose()
            await asyncio.to_thread(worker.join, 20)
            return dict(json.loads(raw))
    raise AssertionError("the stream ended")


def test_events_after_commit_only(database: Database) -> None:
    tenant = make_tenant(database)

    def rolled_back_then_committed() -> None:
        with pytest.raises(RuntimeError), database.session(tenant_id=tenant) as session:
            live.publish_after_commit(session, tenant, "mentions", {"ids": [-1]})
            raise RuntimeError("rolled back")
        ingest(database, tenant, post("hello"))

    event = asyncio.run(_first_event(tenant, rolled_back_then_committed))
    assert event["event"] == "mentions"
    assert event["data"] != {"ids": [-1]}  # the rolled-back event never went out


def test_other_tenants_hear_nothing(database: Database) -> None:
    mine, theirs = make_tenant(database, "Mine"), make_tenant(database, "Theirs")

    stored: dict[str, list[int]] = {}

    def act() -> None:
        stored["theirs"] = ingest(database, theirs, post("theirs")).mention_ids
        stored["mine"] = ingest(database, mine, post("mine")).mention_ids

    event = asyncio.run(_first_event(mine, act))
    assert event["data"] == {"ids": stored["mine"], "count": 1}


def test_redis_pubsub_when_the_queue_is_redis(redis_url: str) -> None:
    settings = get_settings()
    previous = settings.queue_url
    settings.queue_url = redis_url
    try:
        event = asyncio.run(
            _first_event(987654, lambda: live.publish(987654, "ticket", {"ticket_id": 5}))
        )
    finally:
        settings.queue_url = previous
    assert event == {"event": "ticket", "data": {"ticket_id": 5}}

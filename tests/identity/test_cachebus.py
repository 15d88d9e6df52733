"""Cache invalidations cross processes through Redis: a link changed in one process drops the
answers every other process cached."""

from __future__ import annotations

import json
import time

import redis
from fastapi.testclient import TestClient

from socialcrm.core.db import Database
from socialcrm.core.settings import get_settings
from socialcrm.identity import cachebus
from socialcrm.identity.cache import CachedResolution, ResolutionCache, resolution_cache
from socialcrm.identity.graph import record_identity
from tests.identity.conftest import make_contact, resolve


def entry(contact_id: int) -> CachedResolution:
    return CachedResolution(
        contact_id=contact_id, tier="standard", handle="kay", answer={}, expires_at=time.time() + 60
    )


def from_elsewhere(kind: str, tenant_id: int, what: object) -> str:
    message = {"origin": "another-process", "kind": kind, "tenant_id": tenant_id, "what": what}
    return json.dumps(message)


def test_messages_drop_what_they_name() -> None:
    cache = ResolutionCache()
    cache.put([(1, "x", "id:9"), (1, "x", "h:kay")], entry(7))
    cache.put([(1, "x", "id:10")], entry(8))
    cache.put([(2, "x", "id:9")], entry(7))  # another tenant's Contact 7
    cachebus.apply(cache, from_elsewhere("contact", 1, 7))
    assert cache.get((1, "x", "id:9")) is None and cache.get((1, "x", "h:kay")) is None
    assert cache.get((1, "x", "id:10")) is not None and cache.get((2, "x", "id:9")) is not None
    cachebus.apply(cache, from_elsewhere("keys", 1, [[1, "x", "id:10"]]))
    assert cache.get((1, "x", "id:10")) is None
    cachebus.apply(cache, from_elsewhere("clear", 2, None))
    assert len(cache) == 0


def test_own_and_malformed_messages_change_nothing() -> None:
    cache = ResolutionCache()
    cache.put([(1, "x", "id:9")], entry(7))
    cachebus.apply(cache, cachebus.encode("clear", 1, None))  # this process already applied it
    for junk in ("not json", "[]", '{"kind": "contact"}', from_elsewhere("keys", 1, [["bad"]])):
        cachebus.apply(cache, junk)
    assert cache.get((1, "x", "id:9")) is not None


def test_without_redis_one_process_caches_and_nothing_is_published() -> None:
    assert not get_settings().queue_url.startswith("redis")
    assert cachebus.may_cache() is True
    cachebus.publish("clear", 1)  # no Redis: a no-op, no error


def wait_until(predicate: object, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return False


def test_another_process_change_drops_our_cached_answer(redis_queue: redis.Redis) -> None:
    assert cachebus.may_cache() is True  # listening before anything is cached
    resolution_cache.put([(41, "x", "id:9")], entry(7))
    redis_queue.publish(cachebus.CHANNEL, from_elsewhere("contact", 41, 7))
    assert wait_until(lambda: resolution_cache.get((41, "x", "id:9")) is None)


def test_a_committed_link_change_is_published(
    redis_queue: redis.Redis, api: TestClient, database: Database, tenant_id: int
) -> None:
    first = make_contact(
        database, tenant_id, handles=[{"network": "x", "handle": "kay", "user_id": "9"}]
    )
    assert resolve(api, "kay", user_id="9")["cached"] is False
    assert resolve(api, "kay", user_id="9")["cached"] is True
    listener = redis_queue.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
    listener.subscribe(cachebus.CHANNEL)
    assert wait_until(lambda: listener.get_message(timeout=0.1) is None and listener.subscribed)
    second = make_contact(database, tenant_id, name="Kay Two")
    with database.session(tenant_id=tenant_id) as session:
        record_identity(session, second, "x", "9", "kay", "review", relink=True)
    heard: list[dict[str, bytes]] = []

    def a_message() -> bool:
        got = listener.get_message(timeout=0.1)
        if got is not None:
            heard.append(got)
        return bool(heard)

    assert wait_until(a_message)
    message = json.loads(heard[0]["data"])
    assert message["tenant_id"] == tenant_id and message["kind"] in ("contact", "keys")
    listener.close()
    moved = resolve(api, "kay", user_id="9")
    assert moved["cached"] is False and moved["customer_id"] == second != first

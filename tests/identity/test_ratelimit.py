"""The per-sender rate limit in Redis: worker threads and the event loop count one budget."""

from __future__ import annotations

import asyncio
import uuid

import redis
from fastapi.testclient import TestClient

from socialcrm.core.db import Database
from socialcrm.identity import ratelimit
from tests.identity.conftest import make_contact, resolve, set_policy


def test_thread_and_event_loop_counts_share_one_budget(redis_queue: redis.Redis) -> None:
    subject = f"id:{uuid.uuid4().hex}"  # Redis keeps counts between runs

    def on_the_loop() -> int | None:
        return asyncio.run(ratelimit.hit_async(1, "x", subject, 3))

    assert on_the_loop() is None
    assert ratelimit.hit(1, "x", subject, 3) is None
    assert on_the_loop() is None
    over_in_thread = ratelimit.hit(1, "x", subject, 3)
    over_on_loop = on_the_loop()
    assert over_in_thread is not None and over_in_thread >= 1
    assert over_on_loop is not None and over_on_loop >= 1
    assert ratelimit.hit(2, "x", subject, 3) is None  # another tenant's budget


def test_over_the_limit_with_cached_answers_in_redis_is_429_and_reviewed(
    redis_queue: redis.Redis, api: TestClient, database: Database, tenant_id: int
) -> None:
    uid = str(uuid.uuid4().int % 10**12)
    make_contact(database, tenant_id, handles=[{"network": "x", "handle": "ray", "user_id": uid}])
    set_policy(api, rate_limit_per_minute=3)
    answers = [resolve(api, "ray", user_id=uid) for _ in range(3)]
    assert [a["cached"] for a in answers] == [False, True, True]
    over = api.post("/api/v1/resolve", json={"handle": "ray", "channel": "x", "user_id": uid})
    assert over.status_code == 429
    assert over.json()["error"]["code"] == "rate_limited"
    reviews = api.get("/api/identity/reviews").json()["items"]
    assert [(r["kind"], r["user_id"]) for r in reviews] == [("rate_limited", uid)]

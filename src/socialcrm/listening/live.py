"""Live events for the SSE stream: Redis pub/sub when the queue is Redis (so events cross
processes), an in-process fan-out otherwise. Events are published only after the unit of work
that produced them commits, and dropped on rollback."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator
from typing import Any

import redis
import redis.asyncio as aioredis
import structlog
from sqlalchemy.orm import Session

from socialcrm.core import events
from socialcrm.core.settings import get_settings

log = structlog.get_logger(__name__)

CHANNEL = "socialcrm:events:{tenant_id}"


def _redis_url() -> str | None:
    url = get_settings().queue_url
    return url if url.startswith(("redis://", "rediss://", "unix://")) else None


class _LocalBus:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: dict[int, set[tuple[asyncio.AbstractEventLoop, asyncio.Queue[str]]]] = {}

    def publish(self, tenant_id: int, message: str) -> None:
        with self._lock:
            targets = list(self._subscribers.get(tenant_id, ()))
        for loop, queue in targets:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, message)
            except RuntimeError:  # the subscriber's loop is gone
                continue

    def add(
        self, tenant_id: int, item: tuple[asyncio.AbstractEventLoop, asyncio.Queue[str]]
    ) -> None:
        with self._lock:
            self._subscribers.setdefault(tenant_id, set()).add(item)

    def remove(
        self, tenant_id: int, item: tuple[asyncio.AbstractEventLoop, asyncio.Queue[str]]
    ) -> None:
        with self._lock:
            self._subscribers.get(tenant_id, set()).discard(item)


local_bus = _LocalBus()
_redis_clients: dict[str, redis.Redis] = {}


def publish(tenant_id: int, kind: str, data: dict[str, Any]) -> None:
    """Send one event to every live stream of the tenant (now; prefer ``publish_after_commit``)."""
    message = json.dumps({"event": kind, "data": data}, default=str)
    url = _redis_url()
    if url is None:
        local_bus.publish(tenant_id, message)
        return
    client = _redis_clients.get(url)
    if client is None:
        timeout = get_settings().redis_timeout_s
        client = _redis_clients[url] = redis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout
        )
    client.publish(CHANNEL.format(tenant_id=tenant_id), message)


def publish_after_commit(session: Session, tenant_id: int, kind: str, data: dict[str, Any]) -> None:
    """Publish once the unit of work has committed; never after a rollback."""
    events.after_commit(session, lambda: _publish_quietly(tenant_id, kind, data))


def _publish_quietly(tenant_id: int, kind: str, data: dict[str, Any]) -> None:
    try:
        publish(tenant_id, kind, data)
    except redis.RedisError as exc:  # committed already: a live view misses one event
        log.warning("live_event_lost", error_type=type(exc).__name__)


async def subscribe(tenant_id: int, heartbeat_s: float = 15.0) -> AsyncIterator[str | None]:
    """Raw JSON messages of the tenant as they come; ``None`` at each quiet ``heartbeat_s``."""
    url = _redis_url()
    if url is not None:
        async for message in _subscribe_redis(url, tenant_id, heartbeat_s):
            yield message
        return
    queue: asyncio.Queue[str] = asyncio.Queue(maxsize=1000)
    item = (asyncio.get_running_loop(), queue)
    local_bus.add(tenant_id, item)
    try:
        while True:
            try:
                yield await asyncio.wait_for(queue.get(), heartbeat_s)
            except TimeoutError:
                yield None
    finally:
        local_bus.remove(tenant_id, item)


async def _subscribe_redis(
    url: str, tenant_id: int, heartbeat_s: float
) -> AsyncIterator[str | None]:
    client = aioredis.Redis.from_url(url)
    pubsub = client.pubsub()
    await pubsub.subscribe(CHANNEL.format(tenant_id=tenant_id))
    try:
        while True:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=heartbeat_s)
            if message is None:
                yield None
                continue
            raw = message.get("data")
            yield raw.decode() if isinstance(raw, bytes) else str(raw)
    finally:
        await pubsub.unsubscribe()
        await pubsub.aclose()  # type: ignore[no-untyped-call]
        await client.aclose()

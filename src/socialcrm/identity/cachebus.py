"""Cache invalidations shared by every process of a deployment (Redis pub/sub).

With one process the resolution cache is invalidated in place. With several (``socialcrm serve
--workers N``, or API servers beside queue workers) a link changed in one process must drop the
answers the others cached: each change is published on one Redis channel after its unit of
work commits, and every process that caches answers listens and drops what it holds. A listener
that loses its connection clears its cache when it is back (it may have missed messages), so a
stale answer never outlives a dropped connection. Redis is the one the queue uses; without
it there is a single process and nothing to share.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Callable
from typing import Any

import redis
import structlog

from socialcrm.core.settings import get_settings
from socialcrm.identity.cache import CacheKey, ResolutionCache, resolution_cache

log = structlog.get_logger(__name__)

CHANNEL = "socialcrm:identity-cache"
_ORIGIN = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"  # this process: it skips its own messages
_lock = threading.Lock()
_listener: _Listener | None = None
# Also run when another process clears everything (a tenant's identity policy changed).
on_clear: list[Callable[[], None]] = []


def redis_url() -> str | None:
    url = get_settings().queue_url
    return url if url.startswith(("redis://", "rediss://", "unix://")) else None


def encode(kind: str, tenant_id: int, what: Any) -> str:
    return json.dumps({"origin": _ORIGIN, "kind": kind, "tenant_id": tenant_id, "what": what})


def apply(cache: ResolutionCache, raw: str | bytes) -> None:
    """Apply one message from another process to ``cache`` (malformed ones are ignored)."""
    try:
        message = json.loads(raw)
        if message.get("origin") == _ORIGIN:
            return
        kind, tenant_id, what = message["kind"], int(message["tenant_id"]), message["what"]
        if kind == "contact":
            cache.invalidate_contact(tenant_id, int(what))
        elif kind == "keys":
            cache.invalidate_keys([(int(t), str(n), str(k)) for t, n, k in what])
        elif kind == "clear":
            cache.clear()
            for forget in on_clear:
                forget()
    except (ValueError, KeyError, TypeError, AttributeError):
        log.warning("identity_cache_message_ignored")


def publish(kind: str, tenant_id: int, what: int | list[CacheKey] | None = None) -> None:
    """Tell the other processes (no-op without Redis). A failure to publish is logged, not
    raised: the change is committed already; the others' answers then expire with the TTL."""
    url = redis_url()
    if url is None:
        return
    try:
        _client(url).publish(CHANNEL, encode(kind, tenant_id, what))
    except redis.RedisError as exc:
        log.warning("identity_cache_publish_failed", error=type(exc).__name__)


_clients: dict[str, redis.Redis] = {}


def _client(url: str) -> redis.Redis:
    client = _clients.get(url)
    if client is None:
        timeout = get_settings().redis_timeout_s
        client = _clients[url] = redis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout
        )
    return client


def may_cache() -> bool:
    """Whether this process may cache answers now: always with one process (no Redis); with
    Redis only while it listens for the others' invalidations (started on first use)."""
    global _listener
    url = redis_url()
    if url is None:
        return True
    current = _listener
    if current is not None and current.url == url and current.is_alive():
        return current.subscribed.is_set()
    with _lock:
        if _listener is None or _listener.url != url or not _listener.is_alive():
            if _listener is not None:
                _listener.stop()
            _listener = _Listener(url, resolution_cache)
            _listener.start()
        current = _listener
    return current.subscribed.wait(2)  # once per process: the first answer waits for it


def stop_listening() -> None:
    global _listener
    with _lock:
        if _listener is not None:
            _listener.stop()
            _listener = None


class _Listener(threading.Thread):
    def __init__(self, url: str, cache: ResolutionCache) -> None:
        super().__init__(name="identity-cache-listener", daemon=True)
        self.url, self.cache = url, cache
        self.subscribed = threading.Event()
        self._stopped = threading.Event()

    def stop(self) -> None:
        self._stopped.set()

    def run(self) -> None:
        delay = 0.5
        while not self._stopped.is_set():
            try:
                self._listen()
                delay = 0.5
            except redis.RedisError as exc:
                log.warning("identity_cache_listener_lost", error=type(exc).__name__)
            self.subscribed.clear()
            self.cache.clear()  # what was missed while away cannot be known
            self._stopped.wait(delay)
            delay = min(delay * 2, 30)

    def _listen(self) -> None:
        client = redis.Redis.from_url(self.url, socket_timeout=None)
        pubsub = client.pubsub()  # type: ignore[no-untyped-call]
        try:
            pubsub.subscribe(CHANNEL)
            while not self._stopped.is_set():
                message = pubsub.get_message(timeout=1)
                if message is None:
                    continue
                if message.get("type") == "subscribe":
                    self.subscribed.set()
                elif message.get("type") == "message":
                    apply(self.cache, message["data"])
        finally:
            pubsub.close()
            client.close()

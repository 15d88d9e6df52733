"""Per-platform-user rate limit of resolve requests (``limits``: memory, or Redis for scale-out).

The storage follows the queue: when ``SOCIALCRM_QUEUE_URL`` is ``redis://…`` every process of
the deployment shares one budget per user id; otherwise each process counts its own. Worker
threads count with ``hit``; the event loop with ``hit_async`` (``limits``' asyncio Redis
storage, the same keys and scripts, so both count against one budget).
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
import weakref
from functools import lru_cache
from typing import Any, cast

from limits import RateLimitItem, RateLimitItemPerMinute, WindowStats
from limits.aio.storage import RedisStorage as AsyncRedisStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter as AsyncLimiter
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter

from socialcrm.core.settings import get_settings

_lock = threading.Lock()
_limiter: SlidingWindowCounterRateLimiter | None = None
# One asyncio Redis limiter per event loop (its connections belong to that loop).
_async_limiters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncLimiter] = (
    weakref.WeakKeyDictionary()
)


def storage_url() -> str:
    url = get_settings().queue_url
    return url if url.startswith(("redis://", "rediss://")) else "memory://"


def _redis_timeouts() -> dict[str, float]:
    """Redis that refuses or says nothing fails a count within the timeout (503)."""
    timeout = get_settings().redis_timeout_s
    return {"socket_timeout": timeout, "socket_connect_timeout": timeout}


class SweptMemoryStorage(MemoryStorage):
    """``limits``' memory storage, swept once a second by one daemon thread.

    The stock storage restarts a 10 ms timer thread on nearly every new count and sweeps every
    key each time: with many distinct senders that thread churn costs milliseconds per request.
    Expired counts are still ignored on read, so the sweep only gives memory back.
    """

    SWEEP_S = 1.0

    def __init__(self) -> None:
        super().__init__("memory://")
        self.timer.cancel()
        self._MemoryStorage__schedule_expiry = _no_op
        sweeper = threading.Thread(target=_sweep, args=(weakref.ref(self),), daemon=True)
        sweeper.start()


def _no_op() -> None:
    return None


def _sweep(ref: weakref.ref[SweptMemoryStorage]) -> None:
    while (storage := ref()) is not None:
        storage._MemoryStorage__expire_events()  # type: ignore[attr-defined]
        del storage
        time.sleep(SweptMemoryStorage.SWEEP_S)


def limiter() -> SlidingWindowCounterRateLimiter:
    global _limiter
    with _lock:
        if _limiter is None:
            url = storage_url()
            storage = (
                SweptMemoryStorage()
                if url == "memory://"
                else cast(Storage, storage_from_string(url, **_redis_timeouts()))
            )
            _limiter = SlidingWindowCounterRateLimiter(storage)
        return _limiter


def reset_limiter(storage: Storage | None = None) -> None:
    """Forget every count (tests) or switch to ``storage``."""
    global _limiter
    with _lock:
        _limiter = SlidingWindowCounterRateLimiter(storage) if storage is not None else None
        _async_limiters.clear()


@lru_cache(maxsize=64)
def _per_minute(amount: int) -> RateLimitItem:
    return RateLimitItemPerMinute(amount)


def hit(tenant_id: int, network: str, subject: str, per_minute: int) -> int | None:
    """Count one request; ``None`` when allowed, else seconds until the next one is."""
    item = _per_minute(per_minute)
    ids = (str(tenant_id), network, subject)
    current = limiter()
    if current.hit(item, *ids):
        return None
    return _retry_after(current.get_window_stats(item, *ids))


async def hit_async(tenant_id: int, network: str, subject: str, per_minute: int) -> int | None:
    """``hit`` for the event loop: counted in memory as ``hit`` does, or in Redis without
    blocking the loop. Raises ``redis.RedisError`` when Redis cannot be reached."""
    url = storage_url()
    if url == "memory://":
        return hit(tenant_id, network, subject, per_minute)
    item = _per_minute(per_minute)
    ids = (str(tenant_id), network, subject)
    current = _async_limiter(url)
    if await current.hit(item, *ids):
        return None
    return _retry_after(await current.get_window_stats(item, *ids))


def _retry_after(stats: WindowStats) -> int:
    """Whole seconds until the sender may ask again (at least one)."""
    return max(1, math.ceil(stats.reset_time - time.time()))


def _async_limiter(url: str) -> AsyncLimiter:
    loop = asyncio.get_running_loop()
    current = _async_limiters.get(loop)
    if current is None:
        timeouts: dict[str, Any] = _redis_timeouts()
        storage = AsyncRedisStorage(f"async+{url}", implementation="redispy", **timeouts)
        current = _async_limiters[loop] = AsyncLimiter(storage)
    return current

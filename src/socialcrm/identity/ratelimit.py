"""Per-platform-user rate limit of resolve requests (``limits``: memory, or Redis for scale-out).

The storage follows the queue: when ``SOCIALCRM_QUEUE_URL`` is ``redis://…`` every process of
the deployment shares one budget per user id; otherwise each process counts its own.
"""

from __future__ import annotations

import math
import threading
import time
import weakref
from functools import lru_cache
from typing import cast

from limits import RateLimitItem, RateLimitItemPerMinute
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter

from socialcrm.core.settings import get_settings

_lock = threading.Lock()
_limiter: SlidingWindowCounterRateLimiter | None = None


def storage_url() -> str:
    url = get_settings().queue_url
    return url if url.startswith(("redis://", "rediss://")) else "memory://"


def is_local() -> bool:
    """Counted in this process's memory (no I/O): cheap enough to check on the event loop."""
    return storage_url() == "memory://"


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
                else cast(Storage, storage_from_string(url))
            )
            _limiter = SlidingWindowCounterRateLimiter(storage)
        return _limiter


def reset_limiter(storage: Storage | None = None) -> None:
    """Forget every count (tests) or switch to ``storage``."""
    global _limiter
    with _lock:
        _limiter = SlidingWindowCounterRateLimiter(storage) if storage is not None else None


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
    stats = current.get_window_stats(item, *ids)
    return max(1, math.ceil(stats.reset_time - time.time()))

"""A small in-process TTL cache of positive resolutions (≤ 5 minutes).

Entries are dropped when a link of theirs changes (``invalidate_contact`` / ``invalidate_keys``
are called by every service function that changes the identity graph), and answers for tiers a
tenant marks "always fresh" are never served from here. Bounded: the oldest entries go first.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

CacheKey = tuple[int, str, str]  # (tenant_id, network, "id:<user id>" | "h:<handle>")


@dataclass(frozen=True, slots=True)
class CachedResolution:
    contact_id: int
    tier: str
    handle: str
    answer: dict[str, Any]
    expires_at: float


class ResolutionCache:
    def __init__(self, max_entries: int = 200_000) -> None:
        self._entries: OrderedDict[CacheKey, CachedResolution] = OrderedDict()
        self._by_contact: dict[tuple[int, int], set[CacheKey]] = {}
        self._lock = threading.Lock()
        self.max_entries = max_entries
        self.hits = 0
        self.misses = 0

    def get(self, key: CacheKey) -> CachedResolution | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry.expires_at <= time.time():
                if entry is not None:
                    self._drop(key)
                self.misses += 1
                return None
            self.hits += 1
            return entry

    def put(self, keys: list[CacheKey], entry: CachedResolution) -> None:
        if entry.expires_at <= time.time():
            return
        with self._lock:
            for key in keys:
                self._drop(key)
                self._entries[key] = entry
                self._by_contact.setdefault((key[0], entry.contact_id), set()).add(key)
            while len(self._entries) > self.max_entries:
                self._drop(next(iter(self._entries)))

    def invalidate_keys(self, keys: list[CacheKey]) -> None:
        with self._lock:
            for key in keys:
                self._drop(key)

    def invalidate_contact(self, tenant_id: int, contact_id: int) -> None:
        with self._lock:
            for key in list(self._by_contact.pop((tenant_id, contact_id), ())):
                self._drop(key)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._by_contact.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def _drop(self, key: CacheKey) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            keys = self._by_contact.get((key[0], entry.contact_id))
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._by_contact[(key[0], entry.contact_id)]


resolution_cache = ResolutionCache()

"""Injected faults, per-token request budgets and the call log, per network and endpoint family."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Literal

from socialcrm_sandbox.schema import Network

Family = Literal[
    "lookup_handle",
    "lookup_email",
    "search",
    "profile",
    "posts",
    "mentions",
    "dm",
    "reply",
    "publish",
    "metrics",
    "token",
    "revoke",
    "apps",
]
ANY_FAMILY = "*"

# Large enough never to trigger in a test session unless a budget is configured.
DEFAULT_LIMIT = 100_000
DEFAULT_WINDOW_S = 900


@dataclass(frozen=True)
class Fault:
    network: Network
    endpoint: str
    status: int
    retry_after: int | None = None
    count: int = 1
    latency_ms: int = 0
    # False: the call fails before it is applied. True: it is applied (the post exists), then
    # after ``latency_ms`` its answer is replaced by ``status``, or only delayed (status 200:
    # past the client's timeout the answer is lost), as when a network loses an answer.
    after: bool = False

    def matches(self, network: Network, family: Family) -> bool:
        return self.network == network and self.endpoint in (family, ANY_FAMILY)


@dataclass(frozen=True)
class Budget:
    network: Network
    limit: int
    window_s: int
    endpoint: str = ANY_FAMILY


@dataclass(frozen=True)
class Quota:
    """One request's view of its budget: what the rate-limit headers show."""

    limit: int
    remaining: int
    reset_at: float
    window_s: int
    exceeded: bool


@dataclass
class _Window:
    started_at: float
    used: int = 0


@dataclass
class _Store:
    faults: list[Fault] = field(default_factory=list)
    budgets: list[Budget] = field(default_factory=list)
    windows: dict[tuple[Network, str, str, str], _Window] = field(default_factory=dict)
    calls: Counter[tuple[Network, Family]] = field(default_factory=Counter)


def consume(window: _Window, budget: Budget, now: float, cost: int = 1) -> tuple[_Window, Quota]:
    """Spend ``cost`` from a fixed window (a fresh window once the old one has passed)."""
    if now >= window.started_at + budget.window_s:
        window = _Window(started_at=now)
    reset_at = window.started_at + budget.window_s
    exceeded = window.used + cost > budget.limit
    if not exceeded:
        window.used += cost
    remaining = max(budget.limit - window.used, 0)
    return window, Quota(budget.limit, remaining, reset_at, budget.window_s, exceeded)


class Traffic:
    """What the next calls will experience; public methods take the shared lock."""

    def __init__(self, lock: threading.Lock) -> None:
        self._lock = lock
        self._store = _Store()

    def clear(self) -> None:
        with self._lock:
            self._store = _Store()

    # -- faults --------------------------------------------------------------------------

    def add_fault(self, fault: Fault) -> None:
        with self._lock:
            self._store.faults.append(fault)

    def clear_faults(self) -> None:
        with self._lock:
            self._store.faults.clear()

    def faults(self) -> list[Fault]:
        with self._lock:
            return list(self._store.faults)

    def take_fault(self, network: Network, family: Family) -> Fault | None:
        """The first fault matching this call, spending one of its ``count``."""
        with self._lock:
            for index, fault in enumerate(self._store.faults):
                if fault.matches(network, family):
                    if fault.count <= 1:
                        del self._store.faults[index]
                    else:
                        self._store.faults[index] = replace(fault, count=fault.count - 1)
                    return fault
            return None

    # -- budgets -------------------------------------------------------------------------

    def set_budget(self, budget: Budget) -> None:
        with self._lock:
            self._store.budgets = [
                b
                for b in self._store.budgets
                if (b.network, b.endpoint) != (budget.network, budget.endpoint)
            ]
            self._store.budgets.append(budget)
            self._store.windows.clear()

    def clear_budgets(self) -> None:
        with self._lock:
            self._store.budgets.clear()
            self._store.windows.clear()

    def budgets(self) -> list[Budget]:
        with self._lock:
            return list(self._store.budgets)

    def charge(
        self, network: Network, family: Family, caller: str, now: float, cost: int = 1
    ) -> Quota:
        """Count one request (``cost`` units) of ``caller`` against the family's budget."""
        with self._lock:
            budget = self._budget_for(network, family)
            key = (network, family, budget.endpoint, caller)
            window = self._store.windows.get(key) or _Window(started_at=now)
            window, quota = consume(window, budget, now, cost)
            self._store.windows[key] = window
            return quota

    def peek(self, network: Network, family: Family, caller: str, now: float) -> Quota:
        """The budget as it stands, without spending from it."""
        with self._lock:
            budget = self._budget_for(network, family)
            window = self._store.windows.get((network, family, budget.endpoint, caller))
            if window is None or now >= window.started_at + budget.window_s:
                window = _Window(started_at=now)
            remaining = max(budget.limit - window.used, 0)
            reset_at = window.started_at + budget.window_s
            return Quota(budget.limit, remaining, reset_at, budget.window_s, remaining == 0)

    # -- call log ------------------------------------------------------------------------

    def log_call(self, network: Network, family: Family) -> None:
        with self._lock:
            self._store.calls[(network, family)] += 1

    def calls(self, network: Network | None, family: str | None) -> dict[tuple[Network, str], int]:
        with self._lock:
            return {
                key: count
                for key, count in self._store.calls.items()
                if (network is None or key[0] == network) and (family is None or key[1] == family)
            }

    def _budget_for(self, network: Network, family: Family) -> Budget:
        specific = [b for b in self._store.budgets if b.network == network]
        for budget in specific:
            if budget.endpoint == family:
                return budget
        for budget in specific:
            if budget.endpoint == ANY_FAMILY:
                return budget
        return Budget(network, DEFAULT_LIMIT, DEFAULT_WINDOW_S)

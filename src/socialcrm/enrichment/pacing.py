"""Slow down before the network says 429: pace calls from its remaining-budget headers.

``pause_for`` is pure. ``Pacer`` keeps the last budget per operation family of one connected
account and tells the caller how long to wait before the next call of that family.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from socialcrm.providers.base import RateBudget

RESET_MARGIN = timedelta(milliseconds=250)  # reset headers are rounded; never call a hair early
RESERVE = 0.2  # full speed until this share of the window's budget is left, then spread


def pause_for(budget: RateBudget | None, now: datetime, inflight: int = 0) -> timedelta:
    """How long to wait before the next call so the window's budget lasts until its reset.

    Unknown budget or a window that already reset: no pause. Plenty left: no pause. The last
    ``RESERVE`` of the budget is spread evenly over the time left. Spent: wait for the reset.
    """
    if budget is None or budget.reset_at is None or budget.remaining is None:
        return timedelta(0)
    left = budget.reset_at - now
    if left <= timedelta(0):
        return timedelta(0)
    remaining = budget.remaining - inflight
    if remaining <= 0:
        return left + RESET_MARGIN
    if budget.limit and remaining > budget.limit * RESERVE:
        return timedelta(0)
    return left / remaining


@dataclass
class Pacer:
    """Budgets of one account, per operation family (each family has its own window)."""

    budgets: dict[str, RateBudget] = field(default_factory=dict)
    inflight: dict[str, int] = field(default_factory=dict)
    locks: dict[str, asyncio.Lock] = field(default_factory=dict)

    def wait(self, family: str, now: datetime) -> timedelta:
        return pause_for(self.budgets.get(family), now, self.inflight.get(family, 0))

    def probing(self, family: str, now: datetime) -> bool:
        """Nothing known about the current window and a call is already out asking."""
        budget = self.budgets.get(family)
        unknown = budget is None or budget.reset_at is None or budget.reset_at <= now
        return unknown and self.inflight.get(family, 0) > 0

    def learn(self, family: str, budget: RateBudget) -> None:
        if budget.remaining is not None or budget.reset_at is not None:
            self.budgets[family] = budget

    def spent(self, family: str, until: datetime) -> None:
        """A 429: nothing left in this family until ``until``."""
        limit = self.budgets[family].limit if family in self.budgets else None
        self.budgets[family] = RateBudget(limit=limit, remaining=0, reset_at=until)

    def dump(self) -> dict[str, Any]:
        return {
            family: {
                "limit": b.limit,
                "remaining": b.remaining,
                "reset_at": b.reset_at.isoformat() if b.reset_at else None,
            }
            for family, b in self.budgets.items()
        }

    @classmethod
    def load(cls, data: object) -> Pacer:
        pacer = cls()
        if not isinstance(data, dict):
            return pacer
        for family, raw in data.items():
            if not isinstance(raw, dict):
                continue
            reset = raw.get("reset_at")
            pacer.budgets[str(family)] = RateBudget(
                limit=raw.get("limit") if isinstance(raw.get("limit"), int) else None,
                remaining=raw.get("remaining") if isinstance(raw.get("remaining"), int) else None,
                reset_at=datetime.fromisoformat(reset) if isinstance(reset, str) else None,
            )
        return pacer

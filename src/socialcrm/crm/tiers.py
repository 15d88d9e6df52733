"""Support terms by customer tier: the queue, the priority and the first-response SLA.

A tenant overrides any of them in ``Tenant.policy["support"]``, e.g.
``{"first_response_minutes": {"platinum": 30}, "queues": {"guest": "social"}}``, and names
the queue a Ticket moves to when its first response is overdue (``"escalation_queue"``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from socialcrm.crm.models import Priority

GUEST = "guest"  # an author identity resolution does not know

DEFAULT_QUEUES = {
    "platinum": "priority",
    "gold": "priority",
    "standard": "general",
    GUEST: "general",
}
DEFAULT_PRIORITIES = {
    "platinum": Priority.URGENT,
    "gold": Priority.HIGH,
    "standard": Priority.NORMAL,
    GUEST: Priority.LOW,
}
DEFAULT_FIRST_RESPONSE_MINUTES = {"platinum": 30, "gold": 60, "standard": 240, GUEST: 480}


@dataclass(frozen=True, slots=True)
class SupportTerms:
    tier: str
    queue: str
    priority: Priority
    first_response: timedelta


def _lookup(overrides: Any, tier: str, default: Mapping[str, Any]) -> Any:
    if isinstance(overrides, Mapping) and tier in overrides:
        return overrides[tier]
    return default.get(tier, default[GUEST])


def support_terms(policy: Mapping[str, Any] | None, tier: str | None) -> SupportTerms:
    tier = tier or GUEST
    support = (policy or {}).get("support") or {}
    queue = str(_lookup(support.get("queues"), tier, DEFAULT_QUEUES))
    try:
        priority = Priority(_lookup(support.get("priorities"), tier, DEFAULT_PRIORITIES))
    except ValueError:
        priority = DEFAULT_PRIORITIES.get(tier, Priority.LOW)
    try:
        minutes = max(
            1,
            int(
                _lookup(support.get("first_response_minutes"), tier, DEFAULT_FIRST_RESPONSE_MINUTES)
            ),
        )
    except (TypeError, ValueError):
        minutes = DEFAULT_FIRST_RESPONSE_MINUTES.get(tier, DEFAULT_FIRST_RESPONSE_MINUTES[GUEST])
    return SupportTerms(tier, queue, priority, timedelta(minutes=minutes))


def escalation_queue(policy: Mapping[str, Any] | None) -> str | None:
    """Where a Ticket whose first response is overdue moves; None keeps its queue."""
    support = (policy or {}).get("support") or {}
    queue = support.get("escalation_queue") if isinstance(support, Mapping) else None
    return queue.strip()[:80] if isinstance(queue, str) and queue.strip() else None

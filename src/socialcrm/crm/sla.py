"""A Ticket's first-response SLA clock, as pure functions: breached at a time, the next
priority of an escalation, and the marker a list of Tickets shows."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from socialcrm.crm.models import Priority

LADDER = (Priority.LOW, Priority.NORMAL, Priority.HIGH, Priority.URGENT)


def next_priority(priority: str) -> Priority:
    """One step up, capped at the top (an unknown value counts as normal)."""
    try:
        step = LADDER.index(Priority(priority))
    except ValueError:
        step = LADDER.index(Priority.NORMAL)
    return LADDER[min(step + 1, len(LADDER) - 1)]


def is_breached(due_at: datetime | None, responded_at: datetime | None, at: datetime) -> bool:
    """The first response was missed at ``at``: the due time has passed without one before it
    (a late response does not undo the breach)."""
    if due_at is None or at <= due_at:
        return False
    return responded_at is None or responded_at > due_at


class Marker(NamedTuple):
    state: str  # breached | due | responded
    label: str


def marker(
    due_at: datetime | None,
    responded_at: datetime | None,
    breached_at: datetime | None,
    at: datetime,
) -> Marker | None:
    """What a list shows beside a Ticket: "SLA breached", "due in 25 min" or "responded"."""
    if breached_at is not None or is_breached(due_at, responded_at, at):
        return Marker("breached", "SLA breached")
    if responded_at is not None:
        return Marker("responded", "responded")
    if due_at is None:
        return None
    minutes = max(0, int((due_at - at).total_seconds() // 60))
    if minutes < 60:
        return Marker("due", f"due in {minutes} min")
    if minutes < 48 * 60:
        return Marker("due", f"due in {minutes // 60} h {minutes % 60:02d} min")
    return Marker("due", f"due in {minutes // (24 * 60)} days")

"""Tickets: opening one with the customer's support terms, attaching its Contact, and the
support agent's queue by status, queue, priority, assignee and SLA state.

An SLA state here means what ``sla.marker`` shows beside a Ticket at the same moment:
``breached`` (flagged, or overdue now), ``due`` (the clock runs), ``responded`` (stopped in
time) and ``none`` (no clock: a Ticket opened without terms).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from socialcrm.crm import service, terms
from socialcrm.crm.models import Priority, Ticket, TicketStatus
from socialcrm.crm.tiers import SupportTerms


class SlaState(StrEnum):
    BREACHED = "breached"
    DUE = "due"
    RESPONDED = "responded"
    NONE = "none"


def _breached(at: datetime) -> ColumnElement[bool]:
    due, responded = Ticket.first_response_due_at, Ticket.first_responded_at
    return or_(
        Ticket.sla_breached_at.is_not(None),
        and_(due < at, or_(responded.is_(None), responded > due)),
    )


def sla_condition(state: SlaState, at: datetime) -> ColumnElement[bool]:
    due, responded = Ticket.first_response_due_at, Ticket.first_responded_at
    if state == SlaState.BREACHED:
        return _breached(at)
    if state == SlaState.RESPONDED:
        return and_(responded.is_not(None), ~_breached(at))
    if state == SlaState.DUE:
        return and_(due.is_not(None), responded.is_(None), ~_breached(at))
    return and_(due.is_(None), responded.is_(None), Ticket.sla_breached_at.is_(None))


@dataclass(frozen=True, slots=True)
class TicketFilters:
    status: TicketStatus | None = None
    queue: str | None = None
    priority: Priority | None = None
    sla: SlaState | None = None
    assignee_id: int | None = None
    unassigned: bool = False

    def conditions(self, at: datetime) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = []
        if self.status is not None:
            where.append(Ticket.status == self.status)
        if self.queue:
            where.append(Ticket.queue == self.queue)
        if self.priority is not None:
            where.append(Ticket.priority == self.priority)
        if self.sla is not None:
            where.append(sla_condition(self.sla, at))
        if self.unassigned:
            where.append(Ticket.assignee_id.is_(None))
        elif self.assignee_id is not None:
            where.append(Ticket.assignee_id == self.assignee_id)
        return where


def list_tickets(
    session: Session, filters: TicketFilters, *, at: datetime, limit: int, cursor: str | None
) -> service.Page:
    return service.list_page(
        session, Ticket, limit=limit, cursor=cursor, where=filters.conditions(at)
    )


def queues(session: Session) -> list[str]:
    """The queues the tenant's Tickets are in (for the queue filter)."""
    rows = session.scalars(select(Ticket.queue).distinct().order_by(Ticket.queue).limit(200))
    return [str(q) for q in rows]


# --- writing ------------------------------------------------------------------------------


def open_ticket(
    session: Session,
    *,
    subject: str,
    description: str,
    contact_id: int | None,
    tier: str | None,
    assignee_id: int | None,
    opened_at: datetime,
) -> tuple[Ticket, SupportTerms]:
    """A Ticket routed by the customer's ``tier`` (None: a guest): the queue, the priority and
    the first-response due time are the tenant's terms for that tier, returned with it."""
    support = terms.support_terms(session, tier)
    ticket = Ticket(
        subject=subject,
        description=description,
        contact_id=contact_id,
        priority=support.priority,
        queue=support.queue,
        assignee_id=assignee_id,
        first_response_due_at=terms.first_response_due(support, opened_at),
    )
    session.add(ticket)
    session.flush()
    return ticket, support


def attach_contact(session: Session, ticket_id: int, contact_id: int) -> None:
    """The Ticket's customer, once known (a Ticket that already has a Contact keeps it)."""
    ticket = session.get(Ticket, ticket_id)
    if ticket is not None and ticket.contact_id is None:
        ticket.contact_id = contact_id

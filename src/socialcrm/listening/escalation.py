"""First-response SLA breaches of Tickets (social or opened through the API): found every
minute per tenant, each escalated exactly once (flagged, one priority step up, optionally moved
to the tenant's escalation queue), audit-logged and announced in the app, on the live stream
and to outbound webhooks.

Exactly once rests on ``crm.service.flag_sla_breach``: a conditional UPDATE that changes the
Ticket only while it is still open, unanswered and unflagged. Each Ticket is escalated in its
own unit of work together with its notification and webhook deliveries, so a retry or a
concurrent check that loses the UPDATE announces nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from socialcrm.core import audit
from socialcrm.core.db import Database, utcnow
from socialcrm.core.notify import Subject, notify
from socialcrm.crm import service as crm
from socialcrm.crm import terms
from socialcrm.listening import delivery, live
from socialcrm.listening.models import SocialTicket

log = structlog.get_logger(__name__)

EVENT = "ticket.sla_breached"


def overdue_tenants(db: Database, *, now: datetime | None = None) -> list[int]:
    """Tenants with at least one Ticket to escalate (the periodic check fans out from here)."""
    with db.session(system=True) as session:
        return crm.overdue_tenant_ids(session, now or utcnow())


def escalate_tenant(db: Database, tenant_id: int, *, now: datetime | None = None) -> list[int]:
    """Escalate the tenant's overdue Tickets; returns those this call escalated."""
    now = now or utcnow()
    with db.session(tenant_id=tenant_id) as session:
        ticket_ids = crm.overdue_ticket_ids(session, now)
        queue = terms.escalation_queue(session)
    escalated = []
    for ticket_id in ticket_ids:
        with db.session(tenant_id=tenant_id) as session:
            if escalate_ticket(session, tenant_id, ticket_id, now=now, queue=queue):
                escalated.append(ticket_id)
    if escalated:
        log.info("sla_breaches_escalated", tenant_id=tenant_id, count=len(escalated))
    return escalated


def escalate_everywhere(db: Database, *, now: datetime | None = None) -> int:
    """Every tenant's overdue Tickets, in this process (the CLI's and tests' worker)."""
    now = now or utcnow()
    return sum(len(escalate_tenant(db, t, now=now)) for t in overdue_tenants(db, now=now))


def escalate_ticket(
    session: Session, tenant_id: int, ticket_id: int, *, now: datetime, queue: str | None
) -> bool:
    """Flag one overdue Ticket and announce it, in the caller's unit of work; False when it
    was answered, closed or flagged by someone else first."""
    ticket = crm.flag_sla_breach(session, ticket_id, at=now, queue=queue)
    if ticket is None:
        return False
    social = session.scalars(
        select(SocialTicket).where(SocialTicket.ticket_id == ticket.id)
    ).first()
    link = f"/listening/inbox#mention-{social.mention_id}" if social and social.mention_id else ""
    note = notify(
        session,
        user_id=ticket.assignee_id,  # None: every admin of the tenant
        kind="ticket_sla_breached",
        message=f"First response overdue on ticket #{ticket.id}: {ticket.subject}"[:500],
        link=link,
        subject=Subject("ticket", ticket.id),  # cleared by the first response
    )
    session.flush()
    payload: dict[str, Any] = {
        "ticket_id": ticket.id,
        "first_response_due_at": ticket.first_response_due_at,
        "sla_breached_at": ticket.sla_breached_at,
        "priority": ticket.priority,
        "queue": ticket.queue,
        "assignee_id": ticket.assignee_id,
        "network": social.network if social else None,
        "mention_id": social.mention_id if social else None,
    }
    audit.record(
        session,
        actor="system",
        action=EVENT,
        target_type="ticket",
        target_id=ticket.id,
        details={"priority": ticket.priority, "queue": ticket.queue},
    )
    live.publish_after_commit(
        session,
        tenant_id,
        "notification",
        {"id": note.id, "user_id": note.user_id, "message": note.message, "link": note.link},
    )
    live.publish_after_commit(session, tenant_id, "ticket", {**payload, "sla_breached": True})
    delivery.emit(session, EVENT, f"{EVENT}:{ticket.id}", _json_ready(payload))
    return True


def _json_ready(payload: dict[str, Any]) -> dict[str, Any]:
    """The webhook payload is stored as JSON: times as ISO 8601."""
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in payload.items()}

"""What a matched rule (or an agent in the inbox) does with a mention: attribute it to a
campaign, capture a Lead for a non-customer author (routed to a
person), open a Ticket or join its conversation's open one. The crm records come from crm's
use cases; listening keeps its own attribution rows (``SocialLead``, ``SocialTicket``,
``ConversationTicket``) and announces what happened.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from socialcrm.core.db import utcnow
from socialcrm.core.notify import notify
from socialcrm.crm import activities, leads, tickets
from socialcrm.crm.models import Ticket, TicketStatus
from socialcrm.listening import customers, delivery, live, routing
from socialcrm.listening.models import (
    ConversationTicket,
    LeadRoutingRule,
    SocialLead,
    SocialMention,
    SocialTicket,
)


def attribute_to_campaign(session: Session, mention: SocialMention, campaign_id: int) -> None:
    mention.campaign_id = campaign_id
    activities.log_activity(
        session,
        kind="social_mention",
        subject=f"{mention.network} mention by @{mention.author_handle}"[:300],
        body=mention.text,
        contact_id=mention.contact_id,
        campaign_id=campaign_id,
        social_account_id=mention.account_id,
        external_id=mention.external_id[:200],
        occurred_at=mention.posted_at,
    )


@dataclass(frozen=True, slots=True)
class LeadOutcome:
    lead_id: int | None
    created: bool
    contact_id: int | None = None  # the author is a customer: no Lead


def _route(session: Session, mention: SocialMention) -> tuple[int | None, str]:
    rules = list(
        session.scalars(
            select(LeadRoutingRule)
            .where(LeadRoutingRule.active.is_(True))
            .order_by(LeadRoutingRule.position, LeadRoutingRule.id)
        )
    )
    routes = [
        routing.Route(r.id, r.kind, tuple(r.values or []), tuple(int(u) for u in r.user_ids or []))
        for r in rules
    ]
    chosen = routing.choose(
        routes, routing.LeadFacts(mention.language, mention.country, mention.text)
    )
    if chosen is None:
        return None, ""
    position = session.scalar(
        update(LeadRoutingRule)
        .where(LeadRoutingRule.id == chosen.id)
        .values(next_index=LeadRoutingRule.next_index + 1)
        .returning(LeadRoutingRule.next_index)
        .execution_options(synchronize_session=False)
    )
    return routing.pick(chosen, int(position or 1) - 1), f"{chosen.kind} rule {chosen.id}"


def capture_lead(
    session: Session,
    tenant_id: int,
    mention: SocialMention,
    *,
    campaign_id: int | None,
    fallback_owner: int | None = None,
) -> LeadOutcome:
    """A Lead for a non-customer author, one per platform user (identity resolution asked)."""
    known = customers.resolve_author(
        session, mention.network, mention.author_user_id, mention.author_handle
    )
    if known is not None:
        mention.contact_id = known.contact_id
        return LeadOutcome(None, False, known.contact_id)
    author_key = mention.author_user_id or f"handle:{mention.author_handle.lower()}"
    existing = session.scalars(
        select(SocialLead).where(
            SocialLead.network == mention.network, SocialLead.author_user_id == author_key
        )
    ).first()
    if existing is not None:
        mention.lead_id = existing.lead_id
        return LeadOutcome(existing.lead_id, False)
    fields = mention.details.get("fields", {}) if mention.kind == "lead_form" else {}
    name = str(fields.get("full_name") or mention.author_name or f"@{mention.author_handle}")
    identity_lead = customers.guest_lead_for(
        session, mention.network, mention.author_user_id, mention.author_handle, name
    )
    assignee, reason = _route(session, mention)
    if assignee is None and fallback_owner is not None:
        assignee, reason = fallback_owner, "rule owner"
    created = identity_lead is None or identity_lead[1]
    if identity_lead is None:
        lead = leads.create_lead(
            session,
            name=name[:200],
            source=f"social:{mention.network}:{mention.kind}"[:80],
            campaign_id=campaign_id,
            notes=f"{mention.url}\n{mention.text}".strip()[:4000],
            owner_id=assignee,
        )
        lead_id = lead.id
    else:
        lead_id = identity_lead[0]
        leads.claim_lead(session, lead_id, campaign_id=campaign_id, owner_id=assignee)
    session.add(
        SocialLead(
            lead_id=lead_id,
            network=mention.network,
            author_user_id=author_key[:200],
            author_handle=mention.author_handle[:320],
            mention_id=mention.id,
            form_id=str(mention.details.get("form_id", ""))[:200],
            campaign_id=campaign_id,
            assignee_id=assignee,
            routing_reason=reason,
        )
    )
    mention.lead_id = lead_id
    session.flush()
    if assignee is not None:
        notify(
            session,
            user_id=assignee,
            kind="lead_assigned",
            message=f"New social lead from @{mention.author_handle} on {mention.network}."[:500],
            link=f"/listening/inbox#mention-{mention.id}",
        )
    live.publish_after_commit(
        session, tenant_id, "lead", {"lead_id": lead_id, "mention_id": mention.id}
    )
    delivery.emit(
        session,
        "lead.created",
        f"lead.created:{lead_id}",
        {"lead_id": lead_id, "mention_id": mention.id, "network": mention.network},
    )
    return LeadOutcome(lead_id, created)


@dataclass(frozen=True, slots=True)
class TicketOutcome:
    ticket_id: int
    created: bool


def open_or_join_ticket(
    session: Session, tenant_id: int, mention: SocialMention, *, assignee_id: int | None = None
) -> TicketOutcome:
    """Mentions of one conversation join its open Ticket; otherwise a new one with an SLA."""
    if mention.ticket_id is not None:
        return TicketOutcome(mention.ticket_id, False)
    known = customers.resolve_author(
        session, mention.network, mention.author_user_id, mention.author_handle
    )
    if known is not None:
        mention.contact_id = known.contact_id
    conversation = mention.conversation_id or mention.external_id
    pointer = session.scalars(
        select(ConversationTicket).where(
            ConversationTicket.network == mention.network,
            ConversationTicket.conversation_id == conversation,
        )
    ).first()
    if pointer is not None:
        current = session.get(Ticket, pointer.ticket_id)
        if current is not None and current.status != TicketStatus.CLOSED:
            mention.ticket_id = current.id
            activities.log_activity(
                session,
                kind="social_mention",
                subject=f"Follow-up from @{mention.author_handle}"[:300],
                body=mention.text,
                contact_id=mention.contact_id,
                ticket_id=current.id,
                social_account_id=mention.account_id,
                external_id=mention.external_id[:200],
                occurred_at=mention.posted_at,
            )
            return TicketOutcome(current.id, False)
    now = utcnow()
    ticket, terms = tickets.open_ticket(
        session,
        subject=f"{mention.network} @{mention.author_handle}: {mention.text}"[:300],
        description=f"{mention.text}\n\n{mention.url}".strip(),
        contact_id=mention.contact_id,
        tier=known.tier if known else None,
        assignee_id=assignee_id,
        opened_at=now,
    )
    session.add(
        SocialTicket(
            ticket_id=ticket.id,
            network=mention.network,
            conversation_id=conversation,
            mention_id=mention.id,
            tier=terms.tier,
            created_at=now,
        )
    )
    if pointer is None:
        session.add(
            ConversationTicket(
                network=mention.network, conversation_id=conversation, ticket_id=ticket.id
            )
        )
    else:
        pointer.ticket_id = ticket.id
    mention.ticket_id = ticket.id
    session.flush()
    live.publish_after_commit(
        session, tenant_id, "ticket", {"ticket_id": ticket.id, "mention_id": mention.id}
    )
    delivery.emit(
        session,
        "ticket.created",
        f"ticket.created:{ticket.id}",
        {"ticket_id": ticket.id, "mention_id": mention.id, "queue": terms.queue},
    )
    return TicketOutcome(ticket.id, True)

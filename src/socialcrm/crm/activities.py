"""Activities: what happened with a Contact, Lead, Ticket or Campaign, logged by crm for every
domain that saw it happen (a social mention, a reply sent, a follow-up in a conversation)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from socialcrm.crm.models import Activity


def log_activity(
    session: Session,
    *,
    kind: str,
    subject: str = "",
    body: str = "",
    contact_id: int | None = None,
    ticket_id: int | None = None,
    lead_id: int | None = None,
    campaign_id: int | None = None,
    social_account_id: int | None = None,
    external_id: str = "",
    occurred_at: datetime | None = None,
) -> Activity:
    """A new Activity on the timelines of the records it names."""
    activity = Activity(
        kind=kind,
        subject=subject,
        body=body,
        contact_id=contact_id,
        ticket_id=ticket_id,
        lead_id=lead_id,
        campaign_id=campaign_id,
        social_account_id=social_account_id,
        external_id=external_id,
        occurred_at=occurred_at,
    )
    session.add(activity)
    session.flush()
    return activity

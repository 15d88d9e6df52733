"""Leads: creating one, the filtered list, each Lead's social attribution, and converting one
to a Contact.

The attribution of a social Lead (network, handle, platform user id, the mention or lead form,
the campaign, why it was routed to someone) is listening's record of it. It is read here, by
table name, joined to the Lead: the CRM never copies it, and does not import listening (which
itself builds on the CRM). The tenant guard covers the Lead; every joined row is also held to
the Lead's tenant explicitly, since a table read by name is outside the ORM guard.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import ColumnElement, column, exists, select, table
from sqlalchemy import update as sql_update
from sqlalchemy.orm import Session

from socialcrm.crm import schemas, service
from socialcrm.crm.models import Activity, Contact, Lead, LeadStatus

SOCIAL_LEADS = table(
    "listening_social_leads",
    column("tenant_id"),
    column("lead_id"),
    column("network"),
    column("author_user_id"),
    column("author_handle"),
    column("mention_id"),
    column("form_id"),
    column("campaign_id"),
    column("routing_reason"),
)
MENTIONS = table("social_mentions", column("id"), column("tenant_id"), column("url"))
# Listening keys an author it knows only by handle as "handle:<handle>": no platform user id.
HANDLE_KEY = "handle:"


@dataclass(frozen=True, slots=True)
class LeadFilters:
    status: LeadStatus | None = None
    network: str | None = None
    owner_id: int | None = None
    unassigned: bool = False
    campaign_id: int | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = []
        if self.status is not None:
            where.append(Lead.status == self.status)
        if self.network:
            where.append(
                exists().where(
                    SOCIAL_LEADS.c.lead_id == Lead.id,
                    SOCIAL_LEADS.c.tenant_id == Lead.tenant_id,
                    SOCIAL_LEADS.c.network == self.network,
                )
            )
        if self.unassigned:
            where.append(Lead.owner_id.is_(None))
        elif self.owner_id is not None:
            where.append(Lead.owner_id == self.owner_id)
        if self.campaign_id is not None:
            where.append(Lead.campaign_id == self.campaign_id)
        return where


def list_leads(
    session: Session, filters: LeadFilters, *, limit: int, cursor: str | None
) -> service.Page:
    return service.list_page(session, Lead, limit=limit, cursor=cursor, where=filters.conditions())


def attribution(session: Session, lead_ids: Sequence[int]) -> dict[int, schemas.LeadSocialOut]:
    """The social attribution of each of these Leads that came from a network."""
    if not lead_ids:
        return {}
    social = SOCIAL_LEADS
    rows = session.execute(
        select(
            Lead.id,
            social.c.network,
            social.c.author_handle,
            social.c.author_user_id,
            social.c.mention_id,
            MENTIONS.c.url,
            social.c.form_id,
            social.c.campaign_id,
            social.c.routing_reason,
        )
        .join(social, (social.c.lead_id == Lead.id) & (social.c.tenant_id == Lead.tenant_id))
        .outerjoin(
            MENTIONS,
            (MENTIONS.c.id == social.c.mention_id) & (MENTIONS.c.tenant_id == Lead.tenant_id),
        )
        .where(Lead.id.in_(set(lead_ids)))
    ).all()
    out: dict[int, schemas.LeadSocialOut] = {}
    for lead_id, network, handle, user_key, mention_id, url, form_id, campaign, reason in rows:
        user_id = None if str(user_key or "").startswith(HANDLE_KEY) else user_key or None
        out[int(lead_id)] = schemas.LeadSocialOut(
            network=network,
            handle=handle or "",
            user_id=user_id,
            mention_id=mention_id,
            mention_url=url or "",
            form_id=form_id or "",
            campaign_id=campaign,
            routing_reason=reason or "",
        )
    return out


def lead_out(session: Session, leads: Sequence[Lead]) -> list[schemas.LeadOut]:
    """Leads as the API shows them, each with its social attribution."""
    social = attribution(session, [lead.id for lead in leads])
    return [
        schemas.LeadOut.model_validate(lead).model_copy(update={"social": social.get(lead.id)})
        for lead in leads
    ]


def create_lead(
    session: Session,
    *,
    name: str,
    source: str,
    notes: str = "",
    campaign_id: int | None = None,
    owner_id: int | None = None,
) -> Lead:
    """A new Lead (status new) from ``source``, e.g. ``social:x:dm``."""
    lead = Lead(name=name, source=source, notes=notes, campaign_id=campaign_id, owner_id=owner_id)
    session.add(lead)
    session.flush()
    return lead


def claim_lead(
    session: Session, lead_id: int, *, campaign_id: int | None, owner_id: int | None
) -> None:
    """A Lead seen again keeps its campaign and owner: only what it lacks is filled in (the
    campaign that brought the person in, who the routing gave them to)."""
    lead = session.get(Lead, lead_id)
    if lead is None:
        return
    if lead.campaign_id is None:
        lead.campaign_id = campaign_id
    if lead.owner_id is None:
        lead.owner_id = owner_id


def mark_converted(session: Session, lead_id: int, contact_id: int) -> None:
    """The Lead turned out to be this Contact."""
    lead = service.get(session, Lead, lead_id)
    lead.contact_id = contact_id
    lead.status = LeadStatus.CONVERTED


def convert_to_contact(session: Session, lead_id: int) -> Contact:
    """The Lead becomes (or turns out to be) a Contact: a new Contact with its name, owner and
    social handle unless it already has one; the Lead is marked converted and its Activities
    join the Contact's timeline. The identity graph links the handle at commit."""
    lead = service.get(session, Lead, lead_id)
    if lead.contact_id is not None:
        contact = service.get(session, Contact, lead.contact_id)
    else:
        contact = service.create(session, Contact, _contact_values(session, lead))
        lead.contact_id = contact.id
    lead.status = LeadStatus.CONVERTED
    session.execute(
        sql_update(Activity)
        .where(Activity.lead_id == lead.id, Activity.contact_id.is_(None))
        .values(contact_id=contact.id)
        .execution_options(synchronize_session="fetch")
    )
    session.flush()
    return contact


def _contact_values(session: Session, lead: Lead) -> dict[str, Any]:
    values: dict[str, Any] = {"name": lead.name, "owner_id": lead.owner_id}
    social = attribution(session, [lead.id]).get(lead.id)
    if social is not None and social.handle:
        handle = {"network": social.network, "handle": social.handle, "user_id": social.user_id}
        try:
            valid = schemas.SocialHandle.model_validate(handle)
            values["handles"] = [valid.model_dump(exclude_none=True)]
        except ValidationError:
            pass  # a network the CRM's handles do not list: the Contact is made without it
    return values

"""The CRM's own records: Contacts, company Accounts, Leads, Tickets, Activities, Campaigns."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from socialcrm.core.db import Base, TenantScoped, Timestamps, utcnow


class Tier(StrEnum):
    STANDARD = "standard"
    GOLD = "gold"
    PLATINUM = "platinum"


class EmailType(StrEnum):
    WORK = "work"
    PERSONAL = "personal"
    OTHER = "other"


class Contact(TenantScoped, Timestamps, Base):
    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    emails: Mapped[list[Any]] = mapped_column(default=list)
    phones: Mapped[list[Any]] = mapped_column(default=list)
    # The type of each address, keyed by it: {"ada@acme.com": "work"} (phones carry theirs).
    email_types: Mapped[dict[str, Any]] = mapped_column(default=dict)
    company: Mapped[str] = mapped_column(String(200), default="")
    title: Mapped[str] = mapped_column(String(200), default="")
    website: Mapped[str] = mapped_column(String(500), default="")
    location: Mapped[str] = mapped_column(String(200), default="")
    handles: Mapped[list[Any]] = mapped_column(default=list)  # [{network, handle, user_id?}]
    tier: Mapped[Tier] = mapped_column(String(20), default=Tier.STANDARD)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"), index=True
    )
    enrichment_consent: Mapped[bool] = mapped_column(default=False)
    marketing_consent: Mapped[bool] = mapped_column(default=False)
    preferred_channel: Mapped[str | None] = mapped_column(String(20), default=None)
    language: Mapped[str | None] = mapped_column(String(35), default=None)  # BCP 47: "en-US"
    # When profile data last changed (``crm.service.PROFILE_FIELDS``): not moved by the
    # identity graph writing a handle back. Nullable in the table (added in place by 0011).
    profile_updated_at: Mapped[datetime | None] = mapped_column(default=utcnow)
    # Lower-cased name, emails, company and handles: one indexed-free LIKE target for search.
    search_text: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (Index("ix_contacts_tenant_id_id", "tenant_id", "id"),)


class Account(TenantScoped, Timestamps, Base):
    """A company the tenant does business with."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    website: Mapped[str] = mapped_column(String(500), default="")
    industry: Mapped[str] = mapped_column(String(120), default="")
    tier: Mapped[Tier] = mapped_column(String(20), default=Tier.STANDARD)


class LeadStatus(StrEnum):
    NEW = "new"
    QUALIFIED = "qualified"
    DISQUALIFIED = "disqualified"
    CONVERTED = "converted"


class Lead(TenantScoped, Timestamps, Base):
    __tablename__ = "leads"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL"), index=True
    )
    source: Mapped[str] = mapped_column(String(80), default="manual")
    status: Mapped[LeadStatus] = mapped_column(String(20), default=LeadStatus.NEW)
    notes: Mapped[str] = mapped_column(Text, default="")
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="SET NULL"))
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True, default=None
    )


class TicketStatus(StrEnum):
    OPEN = "open"
    PENDING = "pending"
    CLOSED = "closed"


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class Ticket(TenantScoped, Timestamps, Base):
    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[TicketStatus] = mapped_column(String(20), default=TicketStatus.OPEN)
    priority: Mapped[Priority] = mapped_column(String(20), default=Priority.NORMAL)
    queue: Mapped[str] = mapped_column(String(80), default="general")
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # The first-response SLA clock (see ``crm.sla``): due time set by whoever opens the Ticket
    # with terms (listening, by tier), stopped once by the first response, flagged once when
    # it ran out first.
    first_response_due_at: Mapped[datetime | None] = mapped_column(default=None)
    first_responded_at: Mapped[datetime | None] = mapped_column(default=None)
    sla_breached_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (
        # The minutely breach check reads only the clocks still running, by tenant and due time.
        Index(
            "ix_tickets_sla_running",
            "tenant_id",
            "first_response_due_at",
            sqlite_where=text("first_responded_at IS NULL AND sla_breached_at IS NULL"),
            postgresql_where=text("first_responded_at IS NULL AND sla_breached_at IS NULL"),
        ),
    )


class Activity(TenantScoped, Timestamps, Base):
    """Something that happened with a Contact, Lead, Ticket or Campaign: a note, a call, a
    social reply, a mention."""

    __tablename__ = "activities"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(300), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL"), index=True
    )
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"))
    lead_id: Mapped[int | None] = mapped_column(
        ForeignKey("leads.id", ondelete="SET NULL"), index=True, default=None
    )
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="SET NULL"))
    social_account_id: Mapped[int | None] = mapped_column(
        ForeignKey("social_accounts.id", ondelete="SET NULL")
    )
    external_id: Mapped[str] = mapped_column(String(200), default="")
    occurred_at: Mapped[datetime | None] = mapped_column(default=None)


class CampaignStatus(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    ENDED = "ended"


class Campaign(TenantScoped, Timestamps, Base):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[CampaignStatus] = mapped_column(String(20), default=CampaignStatus.DRAFT)
    tracking_tag: Mapped[str] = mapped_column(String(80), default="")
    starts_at: Mapped[datetime | None] = mapped_column(default=None)
    ends_at: Mapped[datetime | None] = mapped_column(default=None)

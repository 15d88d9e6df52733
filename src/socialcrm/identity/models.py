"""The identity graph: platform accounts (keyed by immutable user id), their handles over time,
email-to-handle mappings, guest-lead claims and the review queue."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from socialcrm.core.db import Base, TenantScoped, Timestamps, utcnow


class IdentityProfile(TenantScoped, Timestamps, Base):
    """One account on one network. ``user_id`` is the platform's immutable id (NULL while only
    a handle is known); the handle is an alias that may change. Linked to a Contact, or to the
    guest Lead created for it."""

    __tablename__ = "identity_profiles"
    __table_args__ = (
        UniqueConstraint("tenant_id", "network", "user_id"),
        Index("ix_identity_profiles_handle", "tenant_id", "network", "handle"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    network: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[str | None] = mapped_column(String(200), default=None)
    handle: Mapped[str] = mapped_column(String(320))
    url: Mapped[str] = mapped_column(String(500), default="")
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL"), index=True, default=None
    )
    lead_id: Mapped[int | None] = mapped_column(
        ForeignKey("leads.id", ondelete="SET NULL"), index=True, default=None
    )
    source: Mapped[str] = mapped_column(String(40), default="resolve")


class HandleAlias(TenantScoped, Base):
    """Every handle a profile has had; ``retired_at`` is NULL for the current one."""

    __tablename__ = "identity_handle_aliases"
    __table_args__ = (
        UniqueConstraint("profile_id", "handle"),
        Index("ix_identity_handle_aliases_handle", "tenant_id", "network", "handle"),
        Index("ix_identity_handle_aliases_skeleton", "tenant_id", "network", "skeleton"),
        Index("ix_identity_handle_aliases_local", "tenant_id", "local"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    profile_id: Mapped[int] = mapped_column(ForeignKey("identity_profiles.id", ondelete="CASCADE"))
    network: Mapped[str] = mapped_column(String(20))
    handle: Mapped[str] = mapped_column(String(320))
    local: Mapped[str] = mapped_column(String(320))
    skeleton: Mapped[str] = mapped_column(String(400))
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(default=None)


class EmailHandleLink(TenantScoped, Base):
    """An email address known to belong to a handle (from enrichment or a connected account's
    network), pointing at the Contact that carries the email when there is one."""

    __tablename__ = "identity_email_links"
    __table_args__ = (
        UniqueConstraint("tenant_id", "email", "network", "handle"),
        Index("ix_identity_email_links_handle", "tenant_id", "network", "handle"),
        Index("ix_identity_email_links_user", "tenant_id", "network", "user_id"),
        Index("ix_identity_email_links_email", "tenant_id", "email"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    network: Mapped[str] = mapped_column(String(20))
    handle: Mapped[str] = mapped_column(String(320))
    user_id: Mapped[str | None] = mapped_column(String(200), default=None)
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL"), index=True, default=None
    )
    source: Mapped[str] = mapped_column(String(40), default="enrichment")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class GuestLead(TenantScoped, Base):
    """The claim that makes guest Leads unique: one row per (network, subject), where subject
    is ``id:<user id>``, ``handle:<handle>`` (no id known) or ``email:<address>`` (network
    ``*``). The UNIQUE constraint, not a prior SELECT, is what stops a second Lead."""

    __tablename__ = "identity_guest_leads"
    __table_args__ = (UniqueConstraint("tenant_id", "network", "subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    network: Mapped[str] = mapped_column(String(20))
    subject: Mapped[str] = mapped_column(String(400))
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReviewStatus(StrEnum):
    PENDING = "pending"
    MERGED = "merged"
    REJECTED = "rejected"


class ReviewKind(StrEnum):
    CONFUSABLE = "confusable"  # looks like a known handle but is not it
    LOW_CONFIDENCE = "low_confidence"  # a candidate below the tenant's threshold
    NEW_LEAD = "new_lead"  # a guest Lead was created: a steward may merge it later
    CONFLICT = "conflict"  # two Contacts claim one identity
    HANDLE_REUSED = "handle_reused"  # a customer's known handle, now used by another account
    NOT_LINKED = "not_linked"  # a Contact's handle that cannot join the graph, and why
    RATE_LIMITED = "rate_limited"  # a user id went over its request budget


class IdentityReview(TenantScoped, Timestamps, Base):
    """An item of the review queue. ``dedupe_key`` keeps one row per question: a repeated
    request bumps ``occurrences``; a rejected question is not asked again."""

    __tablename__ = "identity_reviews"
    __table_args__ = (
        UniqueConstraint("tenant_id", "dedupe_key"),
        Index("ix_identity_reviews_status", "tenant_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[ReviewKind] = mapped_column(String(20))
    status: Mapped[ReviewStatus] = mapped_column(String(10), default=ReviewStatus.PENDING)
    reason: Mapped[str] = mapped_column(String(400))
    network: Mapped[str] = mapped_column(String(20))
    handle: Mapped[str] = mapped_column(String(320), default="")
    user_id: Mapped[str | None] = mapped_column(String(200), default=None)
    confidence: Mapped[float] = mapped_column(Float, default=0.0)
    signals: Mapped[dict[str, Any]] = mapped_column(default=dict)
    candidate_contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL"), default=None
    )
    source_contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL"), default=None
    )
    lead_id: Mapped[int | None] = mapped_column(
        ForeignKey("leads.id", ondelete="SET NULL"), default=None
    )
    occurrences: Mapped[int] = mapped_column(Integer, default=1)
    dedupe_key: Mapped[str] = mapped_column(String(600))
    decided_at: Mapped[datetime | None] = mapped_column(default=None)
    decided_by: Mapped[str | None] = mapped_column(String(80), default=None)

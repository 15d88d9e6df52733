"""Tables of social enrichment: links, profile snapshots, public posts, runs, lookup keys.

Snapshots and posts belong to a *profile* (network + user id) inside a tenant, not to one
Contact: a profile linked to several Contacts is fetched once. Links carry the Contact.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from socialcrm.core.db import Base, TenantScoped, utcnow


class LinkStatus(StrEnum):
    LINKED = "linked"
    SUGGESTED = "suggested"
    STALE = "stale"
    REJECTED = "rejected"


class LinkSource(StrEnum):
    AUTO = "auto"
    MANUAL = "manual"


class RunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    WAITING = "waiting"  # rescheduled for a rate-limit reset or a provider outage
    COMPLETED = "completed"
    FAILED = "failed"


ACTIVE_RUN_STATUSES = (RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.WAITING)


class SocialProfileLink(TenantScoped, Base):
    """A Contact ↔ public profile match, with why we believe it (``signals``)."""

    __tablename__ = "social_profile_links"
    __table_args__ = (
        UniqueConstraint("contact_id", "provider", "external_user_id"),
        Index("ix_social_profile_links_tenant_handle", "tenant_id", "handle_key"),
        Index("ix_social_profile_links_tenant_status", "tenant_id", "status", "provider"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    provider: Mapped[str] = mapped_column(String(20))
    external_user_id: Mapped[str] = mapped_column(String(200))
    handle: Mapped[str] = mapped_column(String(320))
    handle_key: Mapped[str] = mapped_column(String(320))  # lower-case, no "@": screen pops
    profile_url: Mapped[str] = mapped_column(String(1000), default="")
    status: Mapped[LinkStatus] = mapped_column(String(12))
    source: Mapped[LinkSource] = mapped_column(String(8), default=LinkSource.AUTO)
    confidence: Mapped[float] = mapped_column(default=0.0)
    signals: Mapped[dict[str, Any]] = mapped_column(default=dict)
    use_as_photo: Mapped[bool] = mapped_column(default=False)
    decided_by: Mapped[str | None] = mapped_column(String(80), default=None)
    decided_at: Mapped[datetime | None] = mapped_column(default=None)
    stale_since: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SocialProfileSnapshot(TenantScoped, Base):
    """Public fields of a profile as fetched at ``fetched_at``; old ones stay as history."""

    __tablename__ = "social_profile_snapshots"
    __table_args__ = (
        Index(
            "ix_social_profile_snapshots_profile",
            "tenant_id",
            "provider",
            "external_user_id",
            "fetched_at",
        ),
        Index("ix_social_profile_snapshots_handle", "tenant_id", "provider", "handle_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(20))
    external_user_id: Mapped[str] = mapped_column(String(200))
    handle: Mapped[str] = mapped_column(String(320))
    handle_key: Mapped[str] = mapped_column(String(320), default="")
    display_name: Mapped[str] = mapped_column(String(200), default="")
    location: Mapped[str] = mapped_column(String(200), default="")
    headline: Mapped[str] = mapped_column(String(500), default="")
    bio: Mapped[str] = mapped_column(Text, default="")
    avatar_url: Mapped[str] = mapped_column(String(1000), default="")
    followers: Mapped[int | None] = mapped_column(Integer, default=None)
    links: Mapped[list[Any]] = mapped_column(default=list)
    profile_url: Mapped[str] = mapped_column(String(1000), default="")
    gone: Mapped[bool] = mapped_column(default=False)  # the network said "not found"
    fetched_at: Mapped[datetime] = mapped_column(default=utcnow)
    posts_fetched_at: Mapped[datetime | None] = mapped_column(default=None)


class SocialPost(TenantScoped, Base):
    """A recent *public* post of a profile, shown read-only on the Contact."""

    __tablename__ = "social_posts"
    __table_args__ = (
        UniqueConstraint("tenant_id", "provider", "post_id"),
        Index("ix_social_posts_profile", "tenant_id", "provider", "external_user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(20))
    external_user_id: Mapped[str] = mapped_column(String(200))
    post_id: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str] = mapped_column(String(1000), default="")
    posted_at: Mapped[datetime | None] = mapped_column(default=None)
    fetched_at: Mapped[datetime] = mapped_column(default=utcnow)


class ContactKey(TenantScoped, Base):
    """Normalised email / phone / handle of a Contact, indexed for screen pops."""

    __tablename__ = "contact_keys"
    __table_args__ = (Index("ix_contact_keys_lookup", "tenant_id", "kind", "value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(8))  # email | phone | handle
    value: Mapped[str] = mapped_column(String(320))


class EnrichmentRun(TenantScoped, Base):
    """A pass over the tenant's Contacts in id order; ``cursor`` is the last id finished."""

    __tablename__ = "enrichment_runs"
    __table_args__ = (Index("ix_enrichment_runs_tenant_status", "tenant_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    trigger: Mapped[str] = mapped_column(String(12))  # nightly | manual
    status: Mapped[RunStatus] = mapped_column(String(12), default=RunStatus.QUEUED)
    cursor: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    processed: Mapped[int] = mapped_column(Integer, default=0)
    linked: Mapped[int] = mapped_column(Integer, default=0)
    suggested: Mapped[int] = mapped_column(Integer, default=0)
    stale: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    calls: Mapped[int] = mapped_column(Integer, default=0)
    rate_limited: Mapped[int] = mapped_column(Integer, default=0)
    transient_errors: Mapped[int] = mapped_column(Integer, default=0)
    outage_attempts: Mapped[int] = mapped_column(Integer, default=0)
    budgets: Mapped[dict[str, Any]] = mapped_column(default=dict)
    resume_at: Mapped[datetime | None] = mapped_column(default=None)
    lease_owner: Mapped[str | None] = mapped_column(String(80), default=None)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    error: Mapped[str] = mapped_column(String(500), default="")
    created_by: Mapped[str] = mapped_column(String(80), default="system")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

"""Scheduled posts, their per-account targets, tracked links and engagement over time."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from socialcrm.core.db import Base, TenantScoped, Timestamps, utcnow
from socialcrm.core.lease import Leased


class TargetStatus(StrEnum):
    DRAFT = "draft"
    AWAITING_APPROVAL = "awaiting_approval"
    SCHEDULED = "scheduled"
    PUBLISHING = "publishing"
    PUBLISHED = "published"
    FAILED = "failed"
    CANCELLED = "cancelled"


# A post can still be edited or cancelled while every target is in one of these.
EDITABLE = (TargetStatus.DRAFT, TargetStatus.AWAITING_APPROVAL, TargetStatus.SCHEDULED)


class ScheduledPost(TenantScoped, Timestamps, Base):
    """What a marketing user composed: a base text, the time and zone, the approval trail."""

    __tablename__ = "pub_posts"

    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(Text, default="")
    author_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    actor: Mapped[str] = mapped_column(String(80), default="")
    campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaigns.id", ondelete="SET NULL"), default=None, index=True
    )
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    local_time: Mapped[str] = mapped_column(String(32), default="")  # the wall time chosen
    publish_at: Mapped[datetime | None] = mapped_column(default=None)  # UTC; None = now/draft
    track_links: Mapped[bool] = mapped_column(default=True)
    utm_campaign: Mapped[str] = mapped_column(String(120), default="")
    media_urls: Mapped[list[Any]] = mapped_column(default=list)
    approved_by: Mapped[str] = mapped_column(String(80), default="")
    approved_at: Mapped[datetime | None] = mapped_column(default=None)
    review_note: Mapped[str] = mapped_column(String(500), default="")


class PostTarget(TenantScoped, Leased, Base):
    """One (post, account) pair: published exactly once, with its own status and metrics.

    While ``publishing`` a worker holds its lease; a target whose lease ran out (the worker
    died) is taken over, and the network is searched for the post before any re-send."""

    __tablename__ = "pub_targets"
    __table_args__ = (
        UniqueConstraint("post_id", "social_account_id"),
        Index("ix_pub_targets_due", "status", "due_at"),
        Index("ix_pub_targets_campaign", "tenant_id", "campaign_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("pub_posts.id", ondelete="CASCADE"), index=True)
    social_account_id: Mapped[int] = mapped_column(
        ForeignKey("social_accounts.id", ondelete="CASCADE"), index=True
    )
    network: Mapped[str] = mapped_column(String(20))
    campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaigns.id", ondelete="SET NULL"), default=None
    )
    variant_text: Mapped[str | None] = mapped_column(Text, default=None)  # as the user typed it
    text: Mapped[str] = mapped_column(Text, default="")  # final: links tagged and shortened
    status: Mapped[TargetStatus] = mapped_column(String(20), default=TargetStatus.DRAFT)
    due_at: Mapped[datetime | None] = mapped_column(default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str] = mapped_column(String(120), default="")
    claimed_at: Mapped[datetime | None] = mapped_column(default=None)
    started_at: Mapped[datetime | None] = mapped_column(default=None)  # first attempt
    external_id: Mapped[str] = mapped_column(String(300), default="")
    url: Mapped[str] = mapped_column(String(1000), default="")
    error: Mapped[str] = mapped_column(String(500), default="")
    published_at: Mapped[datetime | None] = mapped_column(default=None)
    verified_at: Mapped[datetime | None] = mapped_column(default=None)
    likes: Mapped[int] = mapped_column(Integer, default=0)
    comments: Mapped[int] = mapped_column(Integer, default=0)
    shares: Mapped[int] = mapped_column(Integer, default=0)
    impressions: Mapped[int] = mapped_column(BigInteger, default=0)
    metrics_at: Mapped[datetime | None] = mapped_column(default=None)


class TrackedLink(TenantScoped, Base):
    """A link of a published target, reached through ``/r/{code}`` so clicks are counted."""

    __tablename__ = "pub_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    target_id: Mapped[int | None] = mapped_column(
        ForeignKey("pub_targets.id", ondelete="CASCADE"), default=None, index=True
    )
    campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaigns.id", ondelete="SET NULL"), default=None
    )
    destination: Mapped[str] = mapped_column(String(2000))
    clicks: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class EngagementDaily(TenantScoped, Base):
    """What one target gained on one day (deltas), so a campaign's series is one indexed sum."""

    __tablename__ = "pub_engagement_daily"
    __table_args__ = (
        UniqueConstraint("target_id", "day"),
        # Covering: a campaign's series is an index-only range scan, no heap visits.
        Index(
            "ix_pub_engagement_campaign_day",
            "tenant_id",
            "campaign_id",
            "day",
            "likes",
            "comments",
            "shares",
            "impressions",
            "clicks",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    target_id: Mapped[int | None] = mapped_column(
        ForeignKey("pub_targets.id", ondelete="CASCADE"), default=None
    )
    campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), default=None
    )
    day: Mapped[date] = mapped_column(Date)
    likes: Mapped[int] = mapped_column(Integer, default=0)
    comments: Mapped[int] = mapped_column(Integer, default=0)
    shares: Mapped[int] = mapped_column(Integer, default=0)
    impressions: Mapped[int] = mapped_column(BigInteger, default=0)
    clicks: Mapped[int] = mapped_column(Integer, default=0)


class CampaignBudget(TenantScoped, Base):
    """A campaign's spend, for cost per lead (the CRM's Campaign has no money fields)."""

    __tablename__ = "pub_campaign_budgets"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), unique=True
    )
    amount: Mapped[float] = mapped_column(Numeric(14, 2, asdecimal=False))
    currency: Mapped[str] = mapped_column(String(3), default="USD")


class MetricsPacing(TenantScoped, Leased, Base):
    """An account's metrics reads: the cycle asked for (``requested_at``, cleared once every
    post is read; a worker holds the lease meanwhile) and, after a 429, no reads before
    ``resume_at``."""

    __tablename__ = "pub_metrics_pacing"

    id: Mapped[int] = mapped_column(primary_key=True)
    social_account_id: Mapped[int] = mapped_column(
        ForeignKey("social_accounts.id", ondelete="CASCADE"), unique=True
    )
    resume_at: Mapped[datetime | None] = mapped_column(default=None)
    requested_at: Mapped[datetime | None] = mapped_column(default=None)

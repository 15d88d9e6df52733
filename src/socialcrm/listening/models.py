"""Listening: rules, ingested mentions, the (mention, rule) ledger, cursors, social leads and
tickets, lead routing, and webhooks in and out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from socialcrm.core.crypto import EncryptedString
from socialcrm.core.db import Base, TenantScoped, Timestamps, utcnow
from socialcrm.core.lease import Leased


class ListeningRule(TenantScoped, Timestamps, Base):
    __tablename__ = "listening_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    query: Mapped[str] = mapped_column(Text, default="")
    networks: Mapped[list[Any]] = mapped_column(default=list)
    account_ids: Mapped[list[Any]] = mapped_column(default=list)
    brand_account_ids: Mapped[list[Any]] = mapped_column(default=list)
    languages: Mapped[list[Any]] = mapped_column(default=list)
    countries: Mapped[list[Any]] = mapped_column(default=list)
    geo: Mapped[dict[str, Any] | None] = mapped_column(default=None)  # {lat, lon, radius_km}
    sentiments: Mapped[list[Any]] = mapped_column(default=list)
    support: Mapped[bool] = mapped_column(default=False)
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaigns.id", ondelete="SET NULL"), default=None
    )
    actions: Mapped[list[Any]] = mapped_column(default=list)  # lead | ticket | notify | campaign
    active: Mapped[bool] = mapped_column(default=True)


class SocialMention(TenantScoped, Base):
    """One post, DM or lead-form submission seen on a network; idempotent on its external id."""

    __tablename__ = "social_mentions"
    __table_args__ = (
        UniqueConstraint("tenant_id", "network", "external_id"),
        Index("ix_social_mentions_tenant_posted", "tenant_id", "posted_at"),
        Index("ix_social_mentions_conversation", "tenant_id", "network", "conversation_id"),
        # Campaign attribution counts a campaign's mentions by day, kind and sentiment.
        Index(
            "ix_social_mentions_campaign",
            "tenant_id",
            "campaign_id",
            "posted_at",
            postgresql_include=["kind", "sentiment_label"],
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    network: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(20), default="mention")  # mention | dm | lead_form
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("social_accounts.id", ondelete="SET NULL"), default=None
    )
    conversation_id: Mapped[str] = mapped_column(String(300), default="")
    in_reply_to_id: Mapped[str | None] = mapped_column(String(300), default=None)
    author_user_id: Mapped[str] = mapped_column(String(200), default="")
    author_handle: Mapped[str] = mapped_column(String(320), default="")
    author_name: Mapped[str] = mapped_column(String(200), default="")
    text: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str] = mapped_column(String(8), default="und")
    sentiment_score: Mapped[float] = mapped_column(Float, default=0.0)
    sentiment_label: Mapped[str] = mapped_column(String(10), default="neutral")
    sentiment_method: Mapped[str] = mapped_column(String(10), default="none")
    lat: Mapped[float | None] = mapped_column(Float, default=None)
    lon: Mapped[float | None] = mapped_column(Float, default=None)
    country: Mapped[str] = mapped_column(String(2), default="")
    url: Mapped[str] = mapped_column(String(1000), default="")
    posted_at: Mapped[datetime] = mapped_column(default=utcnow)
    ingested_at: Mapped[datetime] = mapped_column(default=utcnow)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)  # form fields of a lead form
    rule_ids: Mapped[list[Any]] = mapped_column(default=list)
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL"), default=None
    )
    lead_id: Mapped[int | None] = mapped_column(
        ForeignKey("leads.id", ondelete="SET NULL"), default=None
    )
    ticket_id: Mapped[int | None] = mapped_column(
        ForeignKey("tickets.id", ondelete="SET NULL"), default=None
    )
    campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaigns.id", ondelete="SET NULL"), default=None
    )


class MentionMatch(TenantScoped, Base):
    """The ledger that makes actions fire exactly once per (mention, rule)."""

    __tablename__ = "listening_matches"
    __table_args__ = (UniqueConstraint("mention_id", "rule_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    mention_id: Mapped[int] = mapped_column(
        ForeignKey("social_mentions.id", ondelete="CASCADE"), index=True
    )
    rule_id: Mapped[int] = mapped_column(
        ForeignKey("listening_rules.id", ondelete="CASCADE"), index=True
    )
    actions_done: Mapped[list[Any]] = mapped_column(default=list)
    fired_at: Mapped[datetime] = mapped_column(default=utcnow)


class ListeningCursor(TenantScoped, Base):
    """Where polling of one account's mentions (or a search) got to."""

    __tablename__ = "listening_cursors"
    __table_args__ = (UniqueConstraint("account_id", "query_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("social_accounts.id", ondelete="CASCADE"))
    query_key: Mapped[str] = mapped_column(String(200), default="mentions")
    cursor: Mapped[str | None] = mapped_column(String(500), default=None)
    last_polled_at: Mapped[datetime | None] = mapped_column(default=None)
    resume_at: Mapped[datetime | None] = mapped_column(default=None)  # rate limited until
    last_error: Mapped[str] = mapped_column(String(300), default="")


class SocialLead(TenantScoped, Base):
    """Social attribution of a Lead; one platform user never becomes two Leads."""

    __tablename__ = "listening_social_leads"
    __table_args__ = (UniqueConstraint("tenant_id", "network", "author_user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(
        ForeignKey("leads.id", ondelete="CASCADE"), unique=True, index=True
    )
    network: Mapped[str] = mapped_column(String(20))
    author_user_id: Mapped[str] = mapped_column(String(200))
    author_handle: Mapped[str] = mapped_column(String(320), default="")
    mention_id: Mapped[int | None] = mapped_column(
        ForeignKey("social_mentions.id", ondelete="SET NULL"), default=None
    )
    form_id: Mapped[str] = mapped_column(String(200), default="")
    campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaigns.id", ondelete="SET NULL"), default=None
    )
    assignee_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    routing_reason: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LeadRoutingRule(TenantScoped, Base):
    __tablename__ = "listening_routing_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    kind: Mapped[str] = mapped_column(String(20))  # round_robin | language | country | keyword
    values: Mapped[list[Any]] = mapped_column(default=list)
    user_ids: Mapped[list[Any]] = mapped_column(default=list)
    next_index: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(default=True)


class SocialTicket(TenantScoped, Base):
    """A Ticket born from a social conversation, with its first-response SLA."""

    __tablename__ = "listening_social_tickets"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), unique=True, index=True
    )
    network: Mapped[str] = mapped_column(String(20))
    conversation_id: Mapped[str] = mapped_column(String(300))
    mention_id: Mapped[int | None] = mapped_column(
        ForeignKey("social_mentions.id", ondelete="SET NULL"), default=None
    )
    tier: Mapped[str] = mapped_column(String(20), default="guest")  # its SLA: on the Ticket
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConversationTicket(TenantScoped, Base):
    """The current Ticket of a conversation: new mentions of it join this one while it is open."""

    __tablename__ = "listening_conversation_tickets"
    __table_args__ = (UniqueConstraint("tenant_id", "network", "conversation_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    network: Mapped[str] = mapped_column(String(20))
    conversation_id: Mapped[str] = mapped_column(String(300))
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))


class InboundWebhook(TenantScoped, Base):
    """An endpoint a network pushes events to: ``/hooks/listening/{token}``."""

    __tablename__ = "listening_inbound_webhooks"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    style: Mapped[str] = mapped_column(String(20))  # x | meta
    network: Mapped[str] = mapped_column(String(20))
    secret: Mapped[str] = mapped_column(EncryptedString(1000))
    verify_token: Mapped[str] = mapped_column(EncryptedString(1000), default="")
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("social_accounts.id", ondelete="SET NULL"), default=None
    )
    campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaigns.id", ondelete="SET NULL"), default=None
    )
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookSubscription(TenantScoped, Base):
    """An outbound webhook: events POSTed, signed with HMAC-SHA256, retried with backoff."""

    __tablename__ = "listening_webhook_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(1000))
    secret: Mapped[str] = mapped_column(EncryptedString(1000))
    events: Mapped[list[Any]] = mapped_column(default=list)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookDelivery(TenantScoped, Leased, Base):
    """One event for one subscriber; the worker sending it holds its lease."""

    __tablename__ = "listening_webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("subscription_id", "event_key"),
        Index("ix_listening_webhook_deliveries_pending", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("listening_webhook_subscriptions.id", ondelete="CASCADE"), index=True
    )
    event: Mapped[str] = mapped_column(String(40))
    event_key: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending|delivered|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str] = mapped_column(String(300), default="")
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

"""Outbound replies, comments and DMs sent from the CRM, and Tickets' first responses."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from socialcrm.core.db import Base, TenantScoped, utcnow


class MessageKind(StrEnum):
    REPLY = "reply"
    COMMENT = "comment"
    DM = "dm"


class DeliveryStatus(StrEnum):
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    # The network did not answer (timeout, 5xx) and cannot show whether it was sent.
    UNCONFIRMED = "unconfirmed"


class OutboundMessage(TenantScoped, Base):
    """One message a user sent through a connected account; the idempotency key is unique."""

    __tablename__ = "engage_messages"
    __table_args__ = (
        UniqueConstraint("tenant_id", "idempotency_key"),
        Index("ix_engage_messages_thread", "tenant_id", "network", "conversation_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(100))
    kind: Mapped[MessageKind] = mapped_column(String(10))
    social_account_id: Mapped[int] = mapped_column(
        ForeignKey("social_accounts.id", ondelete="CASCADE"), index=True
    )
    network: Mapped[str] = mapped_column(String(20))
    sender_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    actor: Mapped[str] = mapped_column(String(80), default="")
    text: Mapped[str] = mapped_column(Text)
    in_reply_to_id: Mapped[str] = mapped_column(String(300), default="")
    recipient_user_id: Mapped[str] = mapped_column(String(200), default="")
    recipient_handle: Mapped[str] = mapped_column(String(320), default="")
    conversation_id: Mapped[str] = mapped_column(String(300), default="")
    mention_id: Mapped[int | None] = mapped_column(Integer, default=None)  # listening's, no FK
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL"), default=None, index=True
    )
    lead_id: Mapped[int | None] = mapped_column(
        ForeignKey("leads.id", ondelete="SET NULL"), default=None
    )
    ticket_id: Mapped[int | None] = mapped_column(
        ForeignKey("tickets.id", ondelete="SET NULL"), default=None
    )
    activity_id: Mapped[int | None] = mapped_column(
        ForeignKey("activities.id", ondelete="SET NULL"), default=None
    )
    status: Mapped[DeliveryStatus] = mapped_column(String(20), default=DeliveryStatus.SENDING)
    external_id: Mapped[str] = mapped_column(String(300), default="")
    url: Mapped[str] = mapped_column(String(1000), default="")
    error: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)


class TicketFirstResponse(TenantScoped, Base):
    """When a Ticket was first answered on the network (its first-response SLA clock stops)."""

    __tablename__ = "engage_ticket_first_responses"
    __table_args__ = (UniqueConstraint("ticket_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("engage_messages.id", ondelete="SET NULL"), default=None
    )
    responded_at: Mapped[datetime] = mapped_column(default=utcnow)

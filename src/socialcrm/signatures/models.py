"""Received emails, the enrichment suggestions drawn from them, and IMAP mailboxes to sync."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from socialcrm.core.crypto import EncryptedString
from socialcrm.core.db import Base, TenantScoped, Timestamps, utcnow


class ReceivedEmail(TenantScoped, Base):
    """One message as received; ``participants`` holds each thread author's signature data.

    A mailbox message that cannot be read is kept as a failed one (``error`` says why, its
    ``message_id`` is a digest of its bytes) so the sync moves past it and people see it."""

    __tablename__ = "received_emails"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(String(300))
    subject: Mapped[str] = mapped_column(String(300), default="")
    sender: Mapped[str] = mapped_column(String(320), default="")
    sender_name: Mapped[str] = mapped_column(String(200), default="")
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    source: Mapped[str] = mapped_column(String(20), default="api")  # api | import | imap
    imap_account_id: Mapped[int | None] = mapped_column(
        ForeignKey("imap_accounts.id", ondelete="SET NULL")
    )
    ticket_id: Mapped[int | None] = mapped_column(
        ForeignKey("tickets.id", ondelete="SET NULL"), index=True
    )
    size: Mapped[int] = mapped_column(default=0)
    text: Mapped[str] = mapped_column(Text, default="")
    from_html: Mapped[bool] = mapped_column(default=False)
    warnings: Mapped[list[Any]] = mapped_column(default=list)
    attachments: Mapped[list[Any]] = mapped_column(default=list)
    participants: Mapped[list[Any]] = mapped_column(default=list)
    error: Mapped[str] = mapped_column(String(500), default="")
    imap_uid: Mapped[int | None] = mapped_column(BigInteger, default=None)

    __table_args__ = (
        UniqueConstraint("tenant_id", "message_id", name="uq_received_emails_tenant_message"),
    )


class SuggestionStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class EnrichmentSuggestion(TenantScoped, Base):
    """One value offered for a Contact (or for an address not yet a Contact).

    ``subject_key`` is ``contact:<id>`` or ``address:<email>``; one row per subject, field and
    normalised value, so a rejected value is remembered and never offered again, and an
    accepted one keeps its sources (which emails, when) for the UI to show.
    """

    __tablename__ = "enrichment_suggestions"

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_key: Mapped[str] = mapped_column(String(340))
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    address: Mapped[str] = mapped_column(String(320), default="")
    field: Mapped[str] = mapped_column(String(20))
    value_key: Mapped[str] = mapped_column(String(400))
    value: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[SuggestionStatus] = mapped_column(String(12), default=SuggestionStatus.PENDING)
    sources: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(default=None)
    decided_by: Mapped[str] = mapped_column(String(80), default="")

    __table_args__ = (
        UniqueConstraint(
            "tenant_id", "subject_key", "field", "value_key", name="uq_enrichment_suggestions_value"
        ),
        Index("ix_enrichment_suggestions_subject", "tenant_id", "subject_key", "status"),
    )


class ImapSecurity(StrEnum):
    SSL = "ssl"
    STARTTLS = "starttls"


class ImapAccount(TenantScoped, Timestamps, Base):
    """A user's mailbox, synced incrementally by UID; the password is encrypted at rest.

    One sync at a time holds the lease (``sync_owner`` until ``sync_lease_until``, renewed with
    every message); a worker killed mid-sync leaves it to expire, and the sync is resumed."""

    __tablename__ = "imap_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    host: Mapped[str] = mapped_column(String(253))
    port: Mapped[int] = mapped_column(default=993)
    security: Mapped[ImapSecurity] = mapped_column(String(10), default=ImapSecurity.SSL)
    username: Mapped[str] = mapped_column(String(320))
    password: Mapped[str] = mapped_column(EncryptedString(2000))
    mailbox: Mapped[str] = mapped_column(String(200), default="INBOX")
    uidvalidity: Mapped[int | None] = mapped_column(BigInteger, default=None)
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    last_sync_at: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str] = mapped_column(String(500), default="")
    active: Mapped[bool] = mapped_column(default=True)
    sync_owner: Mapped[str | None] = mapped_column(String(80), default=None)
    sync_lease_until: Mapped[datetime | None] = mapped_column(default=None)

    @property
    def syncing(self) -> bool:
        """A sync holds the lease (it may be one whose worker died, until the lease ends)."""
        return self.sync_owner is not None

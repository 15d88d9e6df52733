"""API shapes of engagement: outbound replies, comments and DMs."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from socialcrm.core.db import MAX_ID
from socialcrm.engage.models import MessageKind


class MessageIn(BaseModel):
    """Send a reply, a comment or a DM. The idempotency key may come in the body or in the
    ``Idempotency-Key`` header; the same key never sends twice."""

    model_config = ConfigDict(extra="forbid")

    kind: MessageKind
    account_id: int = Field(ge=1, le=MAX_ID)
    text: str = Field(max_length=20_000)
    idempotency_key: str | None = Field(default=None, min_length=8, max_length=100)
    in_reply_to_id: str = Field(default="", max_length=300)
    recipient: str = Field(default="", max_length=320)
    conversation_id: str = Field(default="", max_length=300)
    mention_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    contact_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    lead_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    ticket_id: int | None = Field(default=None, ge=1, le=MAX_ID)


class MessageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    account_id: int = Field(validation_alias="social_account_id")
    network: str
    text: str
    status: str
    external_id: str
    url: str
    error: str
    in_reply_to_id: str
    recipient_handle: str
    conversation_id: str
    mention_id: int | None
    contact_id: int | None
    lead_id: int | None
    ticket_id: int | None
    activity_id: int | None
    created_at: datetime
    sent_at: datetime | None


class UsableAccount(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    provider: str
    handle: str
    ownership: str


class FirstResponseOut(BaseModel):
    ticket_id: int
    responded_at: datetime | None
    message_id: int | None

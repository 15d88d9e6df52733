"""API shapes of email intake, enrichment and IMAP accounts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from socialcrm.core.db import MAX_ID
from socialcrm.signatures.models import ImapSecurity

Id = Annotated[int, Field(ge=1, le=MAX_ID)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class EmailOut(Out):
    id: int
    message_id: str
    subject: str
    sender: str
    sender_name: str
    sent_at: datetime | None
    received_at: datetime
    source: str
    ticket_id: int | None
    size: int
    from_html: bool
    warnings: list[str]
    attachments: list[dict[str, Any]]
    participants: list[dict[str, Any]]
    error: str  # why a mailbox message could not be read ('' for a read one)
    imap_uid: int | None


class EmailPage(BaseModel):
    items: list[EmailOut]
    next_cursor: str | None


class ApplyIn(Strict):
    accept: Annotated[list[Id], Field(max_length=200)] = []
    reject: Annotated[list[Id], Field(max_length=200)] = []


class ConnectIn(Strict):
    """Create a Contact for an unknown participant, or add the address to an existing one."""

    address: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=320)]
    create: bool = False
    contact_id: Id | None = None
    name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None


class EmailSettingsIn(Strict):
    default_region: (
        Annotated[
            str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Z]{2}$")
        ]
        | None
    ) = None
    default_phone_type: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)] | None
    ) = None
    auto_create_contacts: bool | None = None
    mining_enabled: bool | None = None


class EmailSettingsOut(BaseModel):
    default_region: str
    default_phone_type: str
    auto_create_contacts: bool
    mining_enabled: bool  # off: mail is stored, nothing is suggested from it


class ImapAccountIn(Strict):
    host: Annotated[
        str,
        StringConstraints(
            strip_whitespace=True, min_length=1, max_length=253, pattern=r"^[A-Za-z0-9.\-:]+$"
        ),
    ]
    port: Annotated[int, Field(ge=1, le=65535)] = 993
    security: ImapSecurity = ImapSecurity.SSL
    username: Annotated[str, StringConstraints(min_length=1, max_length=320)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=500)]
    mailbox: Annotated[str, StringConstraints(min_length=1, max_length=200)] = "INBOX"


class ImapAccountOut(Out):
    """Never the password."""

    id: int
    user_id: int | None
    host: str
    port: int
    security: ImapSecurity
    username: str
    mailbox: str
    last_uid: int
    last_sync_at: datetime | None
    last_error: str
    active: bool
    syncing: bool

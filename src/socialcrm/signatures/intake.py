"""Taking in mail (an upload, the API, a mailbox sync): store one message and propose what its
participants' signatures add; a message that cannot be read is kept as a failed one.

Sessions are tenant-scoped (``core.db``); nothing here filters by tenant by hand. Contacts are
read and written through ``crm.service`` only.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from socialcrm.core.errors import ValidationFailed
from socialcrm.crm import service as crm
from socialcrm.crm.models import Contact, Ticket
from socialcrm.signatures.addresses import is_free_mail, is_role_address
from socialcrm.signatures.analysis import Participant, analyse
from socialcrm.signatures.candidates import (
    MAX_SOURCES,
    Candidate,
    candidates,
    contact_keys,
    create_contact,
    find_contact_by_email,
    is_new,
)
from socialcrm.signatures.fields import SignatureFields
from socialcrm.signatures.mime import MalformedEmail, ParsedEmail, parse_email, peek_headers
from socialcrm.signatures.models import (
    EnrichmentSuggestion,
    ReceivedEmail,
    SuggestionStatus,
)
from socialcrm.signatures.names import format_name
from socialcrm.signatures.policy import EmailSettings, get_settings
from socialcrm.tenancy.models import User

MAX_STORED_TEXT = 50_000


@dataclass(slots=True)
class IngestResult:
    email: ReceivedEmail
    created: bool


def ingest(
    session: Session,
    tenant_id: int,
    raw: bytes,
    *,
    source: str = "api",
    imap_account_id: int | None = None,
    create_ticket: bool = False,
    mailbox_owner: str = "",
    imap_uid: int | None = None,
) -> IngestResult:
    """Store one raw message and propose what its participants' signatures add.

    Idempotent on Message-ID: the same message twice is one email. Bytes that are not a
    message raise ``ValidationFailed`` (before anything is written); damaged ones are stored
    with warnings.
    """
    try:
        parsed = parse_email(raw)
    except MalformedEmail as exc:
        raise ValidationFailed(str(exc)) from exc
    existing = session.scalars(
        select(ReceivedEmail).where(ReceivedEmail.message_id == parsed.message_id)
    ).first()
    if existing is not None:
        return IngestResult(email=existing, created=False)
    settings = get_settings(session, tenant_id)
    if settings.mining_enabled:
        participants = analyse(
            parsed, region=settings.default_region, default_phone_type=settings.default_phone_type
        )
    else:  # the sender is still recognised (the email list, the ticket's contact); no more
        participants = _sender_only(parsed)
    staff = _staff_addresses(session) | ({mailbox_owner.lower()} if mailbox_owner else set())
    email = ReceivedEmail(
        message_id=parsed.message_id,
        subject=parsed.subject,
        sender=parsed.sender.email if parsed.sender else "",
        sender_name=(parsed.sender.name if parsed.sender else "")[:200],
        sent_at=parsed.sent_at,
        source=source,
        imap_account_id=imap_account_id,
        imap_uid=imap_uid,
        size=len(raw),
        text=parsed.text[:MAX_STORED_TEXT],
        from_html=parsed.from_html,
        warnings=parsed.warnings[:20],
        attachments=[
            {"filename": a.filename, "content_type": a.content_type, "size": a.size}
            for a in parsed.attachments[:50]
        ],
    )
    session.add(email)
    session.flush()
    stored: list[dict[str, Any]] = []
    for participant in participants:
        if participant.email in staff:
            continue
        contact = find_contact_by_email(session, participant.email)
        if settings.mining_enabled and contact is None and _may_auto_create(settings, participant):
            contact = create_contact(session, participant.email, _best_name(participant))
        stored.append(_participant_record(participant, contact))
        if settings.mining_enabled:
            _propose(session, email, participant, contact)
    email.participants = stored
    if create_ticket:
        email.ticket_id = _ticket_for(session, email, parsed, stored)
    session.flush()
    return IngestResult(email=email, created=True)


def record_failed(
    session: Session,
    raw: bytes,
    reason: str,
    *,
    source: str,
    imap_account_id: int | None = None,
    imap_uid: int | None = None,
) -> ReceivedEmail:
    """Keep a message that cannot be read as a failed one, with why (its ``message_id`` is a
    digest of its bytes: the same bytes again are the same failed message)."""
    message_id = f"<failed-{hashlib.sha256(raw).hexdigest()[:40]}@socialcrm.invalid>"
    existing = session.scalars(
        select(ReceivedEmail).where(ReceivedEmail.message_id == message_id)
    ).first()
    if existing is not None:
        return existing
    sender, subject = peek_headers(raw)
    email = ReceivedEmail(
        message_id=message_id,
        subject=subject[:300],
        sender_name=sender[:200],
        source=source,
        imap_account_id=imap_account_id,
        imap_uid=imap_uid,
        size=len(raw),
        error=(reason or "the message cannot be read")[:500],
    )
    session.add(email)
    session.flush()
    return email


def _sender_only(parsed: ParsedEmail) -> list[Participant]:
    if parsed.sender is None:
        return []
    return [
        Participant(
            email=parsed.sender.email,
            display_name=parsed.sender.name,
            kind="top",
            fields=SignatureFields(),
        )
    ]


def _staff_addresses(session: Session) -> set[str]:
    """The tenant's own people: they are not enriched from their own mail."""
    return {u.lower() for u in session.scalars(select(User.email))}


def _may_auto_create(settings: EmailSettings, participant: Participant) -> bool:
    address = participant.email
    return (
        settings.auto_create_contacts and not is_free_mail(address) and not is_role_address(address)
    )


def _best_name(participant: Participant) -> str:
    return participant.fields.name or format_name(participant.display_name) or ""


def _participant_record(participant: Participant, contact: Contact | None) -> dict[str, Any]:
    f = participant.fields
    return {
        "email": participant.email,
        "name": _best_name(participant),
        "kind": participant.kind,
        "contact_id": contact.id if contact else None,
        "fields": {
            "name": f.name,
            "title": f.title,
            "company": f.company,
            "phones": [
                {"number": p.number, "display": p.display, "type": p.type} for p in f.phones
            ],
            "emails": list(f.emails),
            "websites": list(f.websites),
            "profiles": [
                {"network": p.network, "handle": p.handle, "url": p.url} for p in f.profiles
            ],
        },
    }


def _ticket_for(
    session: Session, email: ReceivedEmail, parsed: ParsedEmail, participants: list[dict[str, Any]]
) -> int:
    sender = parsed.sender.email if parsed.sender else ""
    contact_id = next((p["contact_id"] for p in participants if p["email"] == sender), None)
    ticket = crm.create(
        session,
        Ticket,
        {
            "subject": (parsed.subject or "(no subject)")[:300],
            "description": parsed.text[:20_000],
            "contact_id": contact_id,
        },
    )
    return int(ticket.id)


def _subject_key(contact: Contact | None, address: str) -> str:
    return f"contact:{contact.id}" if contact is not None else f"address:{address}"


def _source(email: ReceivedEmail) -> dict[str, Any]:
    moment = email.sent_at or email.received_at
    return {
        "email_id": email.id,
        "subject": email.subject,
        "date": moment.isoformat() if moment else None,
    }


def _propose(
    session: Session, email: ReceivedEmail, participant: Participant, contact: Contact | None
) -> None:
    record = _participant_record(participant, contact)
    region = get_settings(session, email.tenant_id).default_region
    keys = contact_keys(contact, region) if contact is not None else None
    subject = _subject_key(contact, participant.email)
    for candidate in candidates(record):
        if keys is not None and not is_new(candidate, keys):
            continue
        if keys is None and candidate.field == "emails" and candidate.key == participant.email:
            continue
        _upsert(session, subject, contact, participant.email, candidate, _source(email))


def _upsert(
    session: Session,
    subject: str,
    contact: Contact | None,
    address: str,
    candidate: Candidate,
    source: dict[str, Any],
) -> EnrichmentSuggestion:
    row = session.scalars(
        select(EnrichmentSuggestion).where(
            EnrichmentSuggestion.subject_key == subject,
            EnrichmentSuggestion.field == candidate.field,
            EnrichmentSuggestion.value_key == candidate.key,
        )
    ).first()
    if row is None:
        row = EnrichmentSuggestion(
            subject_key=subject,
            contact_id=contact.id if contact else None,
            address=address,
            field=candidate.field,
            value_key=candidate.key,
            value=candidate.value,
            sources=[source],
        )
        session.add(row)
        session.flush()
        return row
    # Rejected stays rejected, accepted stays accepted; a pending one gains a source.
    if row.status == SuggestionStatus.PENDING and all(
        s.get("email_id") != source["email_id"] for s in row.sources
    ):
        row.sources = [source, *row.sources][:MAX_SOURCES]
    return row

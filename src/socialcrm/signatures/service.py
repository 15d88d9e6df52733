"""Use cases: take in an email, propose what is new about its participants, apply a decision.

Sessions are tenant-scoped (``core.db``); nothing here filters by tenant by hand. Contacts are
read and written through ``crm.service`` only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import phonenumbers
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from socialcrm.core import audit
from socialcrm.core.db import utcnow
from socialcrm.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from socialcrm.core.numbers import parse_cursor
from socialcrm.core.principal import Principal, Role
from socialcrm.crm import phones as crm_phones
from socialcrm.crm import service as crm
from socialcrm.crm.models import Contact, Ticket
from socialcrm.signatures.addresses import is_free_mail, is_role_address
from socialcrm.signatures.analysis import Participant, analyse
from socialcrm.signatures.extract import SignatureFields, format_name, website_key
from socialcrm.signatures.mime import MalformedEmail, ParsedEmail, parse_email, peek_headers
from socialcrm.signatures.models import (
    EnrichmentSuggestion,
    ImapAccount,
    ReceivedEmail,
    SuggestionStatus,
)
from socialcrm.tenancy.models import Tenant, User

POLICY_KEY = "email_enrichment"
THREAD_UPDATE_WINDOW = timedelta(days=7)
MAX_SOURCES = 10
MAX_STORED_TEXT = 50_000
COMPLETENESS_FIELDS = ("name", "emails", "phones", "company", "title", "website", "location")
SINGLE_FIELDS = ("name", "title", "company", "website")
LIST_FIELDS = ("phones", "emails", "handles")
_LIMITS = {"name": 200, "title": 200, "company": 200, "website": 500}


# --- tenant settings --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EmailSettings:
    default_region: str = "US"
    default_phone_type: str = "business"
    auto_create_contacts: bool = False
    # Creatio's "Enable Email Mining": off, mail is still taken in and stored, but no
    # signature is read and nothing is suggested (nor Contacts created) from it.
    mining_enabled: bool = True


def get_settings(session: Session, tenant_id: int) -> EmailSettings:
    tenant = session.get(Tenant, tenant_id)
    stored = (tenant.policy or {}).get(POLICY_KEY, {}) if tenant else {}
    return EmailSettings(
        default_region=str(stored.get("default_region", "US")),
        default_phone_type=str(stored.get("default_phone_type", "business")),
        auto_create_contacts=bool(stored.get("auto_create_contacts", False)),
        mining_enabled=bool(stored.get("mining_enabled", True)),
    )


def _require_mining(session: Session, tenant_id: int) -> None:
    if not get_settings(session, tenant_id).mining_enabled:
        raise Conflict(
            "email enrichment is turned off for this tenant",
            details={"hint": "an admin turns it on: PUT /api/email-settings {mining_enabled}"},
        )


def update_settings(session: Session, tenant_id: int, changes: dict[str, Any]) -> EmailSettings:
    region = changes.get("default_region")
    if region is not None and region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValidationFailed(
            f"unknown phone region {region!r} (use ISO 3166 codes like DE)",
            details={"default_region": region},
        )
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound("tenant not found")
    current = dict((tenant.policy or {}).get(POLICY_KEY, {}))
    current.update({k: v for k, v in changes.items() if v is not None})
    tenant.policy = {**(tenant.policy or {}), POLICY_KEY: current}
    session.flush()
    return get_settings(session, tenant_id)


def change_settings(
    session: Session, principal: Principal, changes: dict[str, Any]
) -> EmailSettings:
    """An admin's change of the email settings (the fields given), audit-logged."""
    if principal.role != Role.ADMIN:
        raise Forbidden("only an admin changes the email settings")
    settings = update_settings(session, principal.tenant_id, changes)
    audit.record(
        session,
        actor=principal.actor,
        action="email_settings.update",
        target_type="tenant",
        target_id=principal.tenant_id,
        details={k: v for k, v in changes.items() if v is not None},
    )
    return settings


# --- intake -----------------------------------------------------------------------------------


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
            contact = _create_contact(session, participant.email, _best_name(participant))
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


def find_contact_by_email(session: Session, address: str) -> Contact | None:
    address = address.lower()
    page = crm.list_page(session, Contact, limit=crm.MAX_LIMIT, cursor=None, query=address)
    for contact in page.items:
        if address in {str(e).lower() for e in contact.emails}:
            return contact  # type: ignore[no-any-return]
    return None


def _create_contact(session: Session, address: str, name: str) -> Contact:
    contact = crm.create(
        session, Contact, {"name": (name or address.partition("@")[0])[:200], "emails": [address]}
    )
    return contact


# --- candidate values -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Candidate:
    field: str
    key: str
    value: dict[str, Any]


def candidates(participant_record: dict[str, Any]) -> list[Candidate]:
    """Every value a participant's signature offers, with the key that makes it unique."""
    f = participant_record["fields"]
    found: list[Candidate] = []
    for attr in ("name", "title", "company"):
        if f.get(attr):
            found.append(Candidate(attr, _text_key(f[attr]), {"text": f[attr]}))
    for phone in f.get("phones", []):
        found.append(Candidate("phones", phone["number"], dict(phone)))
    for address in f.get("emails", []):
        found.append(Candidate("emails", address.lower(), {"email": address.lower()}))
    for site in f.get("websites", []):
        found.append(Candidate("website", website_key(site), {"url": site}))
    for profile in f.get("profiles", []):
        key = f"{profile['network']}:{profile['handle'].lower()}"
        found.append(Candidate("handles", key, dict(profile)))
    return found


def _text_key(text: str) -> str:
    return " ".join(text.casefold().split())[:300]


def _contact_keys(contact: Contact, region: str) -> dict[str, set[str]]:
    """What the Contact already has, in the keys ``candidates`` uses."""
    phones: set[str] = set()
    for raw in crm_phones.numbers(contact.phones or []):
        try:
            number = phonenumbers.parse(raw, region)
            phones.add(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
        except phonenumbers.NumberParseException:
            phones.add(raw)
    handles = {f"{h.get('network')}:{str(h.get('handle', '')).lower()}" for h in contact.handles}
    return {
        "name": {_text_key(contact.name)},
        "title": {_text_key(contact.title)} if contact.title else set(),
        "company": {_text_key(contact.company)} if contact.company else set(),
        "phones": phones,
        "emails": {str(e).lower() for e in contact.emails or []},
        "website": {website_key(contact.website)} if contact.website else set(),
        "handles": handles,
    }


def _is_new(candidate: Candidate, keys: dict[str, set[str]]) -> bool:
    return candidate.key not in keys.get(candidate.field, set())


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
    keys = _contact_keys(contact, region) if contact is not None else None
    subject = _subject_key(contact, participant.email)
    for candidate in candidates(record):
        if keys is not None and not _is_new(candidate, keys):
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


# --- reading suggestions ----------------------------------------------------------------------


def completeness(contact: Contact) -> dict[str, Any]:
    """Share of the key profile fields that are filled (what the profile indicator shows)."""
    filled = [
        name
        for name in (*COMPLETENESS_FIELDS, "handles")
        if (getattr(contact, name) or None) is not None and getattr(contact, name) != ""
    ]
    total = len(COMPLETENESS_FIELDS) + 1
    missing = [n for n in (*COMPLETENESS_FIELDS, "handles") if n not in filled]
    return {"score": round(len(filled) / total, 3), "filled": filled, "missing": missing}


def pending_for_contact(session: Session, contact: Contact) -> list[EnrichmentSuggestion]:
    """Pending values that are still new for the Contact (values typed since drop out); none
    while email enrichment is off (they are kept, and offered again once it is back on)."""
    settings = get_settings(session, contact.tenant_id)
    if not settings.mining_enabled:
        return []
    region = settings.default_region
    keys = _contact_keys(contact, region)
    rows = session.scalars(
        select(EnrichmentSuggestion)
        .where(
            EnrichmentSuggestion.subject_key == f"contact:{contact.id}",
            EnrichmentSuggestion.status == SuggestionStatus.PENDING,
        )
        .order_by(EnrichmentSuggestion.id)
    ).all()
    return [r for r in rows if r.value_key not in keys.get(r.field, set())]


def enriched_for_contact(session: Session, contact: Contact) -> list[EnrichmentSuggestion]:
    return list(
        session.scalars(
            select(EnrichmentSuggestion)
            .where(
                EnrichmentSuggestion.subject_key == f"contact:{contact.id}",
                EnrichmentSuggestion.status == SuggestionStatus.ACCEPTED,
            )
            .order_by(EnrichmentSuggestion.decided_at.desc())
        )
    )


def contact_enrichment(session: Session, contact_id: int) -> dict[str, Any]:
    contact = crm.get(session, Contact, contact_id)
    return {
        "contact_id": contact.id,
        "mining_enabled": get_settings(session, contact.tenant_id).mining_enabled,
        "completeness": completeness(contact),
        "pending": [suggestion_view(s, contact) for s in pending_for_contact(session, contact)],
        "enriched": [suggestion_view(s, contact) for s in enriched_for_contact(session, contact)],
    }


def suggestion_view(row: EnrichmentSuggestion, contact: Contact | None) -> dict[str, Any]:
    """One value as the API and the UI show it: add, or replace what is there."""
    current = ""
    action = "add"
    if contact is not None and row.field in SINGLE_FIELDS:
        current = str(getattr(contact, row.field) or "")
        action = "replace" if current else "set"
    return {
        "id": row.id,
        "field": row.field,
        "value": row.value,
        "label": value_label(row.field, row.value),
        "action": action,
        "current": current,
        "status": row.status,
        "sources": row.sources,
        "decided_at": row.decided_at.isoformat() if row.decided_at else None,
    }


def value_label(field: str, value: dict[str, Any]) -> str:
    if field == "phones":
        return crm_phones.label(
            {"number": value.get("display") or value.get("number"), "type": value.get("type")}
        )
    if field == "handles":
        return str(value.get("url", ""))
    for key in ("text", "email", "url"):
        if key in value:
            return str(value[key])
    return ""


# --- applying a decision ----------------------------------------------------------------------


def apply(
    session: Session,
    contact_id: int,
    *,
    accept: Sequence[int],
    reject: Sequence[int],
    actor: str,
) -> dict[str, Any]:
    """Accept values onto the Contact and remember rejected ones; then link the Contact to the
    threads of the last seven days in which its (possibly new) addresses appear."""
    contact = crm.get(session, Contact, contact_id)
    _require_mining(session, contact.tenant_id)
    overlap = set(accept) & set(reject)
    if overlap:
        raise ValidationFailed(
            "a value cannot be both accepted and rejected", details={"ids": sorted(overlap)}
        )
    wanted = set(accept) | set(reject)
    rows = {
        r.id: r
        for r in session.scalars(
            select(EnrichmentSuggestion).where(
                EnrichmentSuggestion.id.in_(wanted),
                EnrichmentSuggestion.subject_key == f"contact:{contact.id}",
            )
        )
    }
    unknown = sorted(wanted - set(rows))
    if unknown:
        raise ValidationFailed(
            "these suggestions do not belong to this contact", details={"ids": unknown}
        )
    decided = [rows[i] for i in wanted if rows[i].status != SuggestionStatus.PENDING]
    if decided:
        raise Conflict(
            "some values were already decided", details={"ids": sorted(r.id for r in decided)}
        )
    now = utcnow()
    changes = _changes_for(contact, [rows[i] for i in accept])
    if changes:
        crm.update(session, Contact, contact.id, changes)
    for ids, status in ((accept, SuggestionStatus.ACCEPTED), (reject, SuggestionStatus.REJECTED)):
        for i in ids:
            rows[i].status = status
            rows[i].decided_at = now
            rows[i].decided_by = actor
    _link_recent_threads(session, contact)
    audit.record(
        session,
        actor=actor,
        action="contact.enrich",
        target_type="contact",
        target_id=contact.id,
        details={"accepted": sorted(accept), "rejected": sorted(reject)},
    )
    session.flush()
    return contact_enrichment(session, contact.id)


def _changes_for(contact: Contact, accepted: Iterable[EnrichmentSuggestion]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    phones = list(contact.phones or [])
    emails = list(contact.emails or [])
    handles = list(contact.handles or [])
    seen_single: set[str] = set()
    for row in accepted:
        value = row.value
        if row.field in ("name", "title", "company"):
            if row.field in seen_single:
                raise ValidationFailed(f"accept one {row.field} at a time")
            seen_single.add(row.field)
            changes[row.field] = str(value["text"])[: _LIMITS[row.field]]
        elif row.field == "website":
            if "website" in seen_single:
                raise ValidationFailed("accept one website at a time")
            seen_single.add("website")
            changes["website"] = str(value["url"])[:500]
        elif row.field == "phones":  # with the type its label said (mobile, fax …)
            phones.append(
                crm_phones.typed(
                    {"number": value.get("display") or value["number"], "type": value.get("type")}
                )
            )
            changes["phones"] = phones
        elif row.field == "emails":
            emails.append(value["email"])
            changes["emails"] = emails
        elif row.field == "handles":
            handles.append({"network": value["network"], "handle": value["handle"]})
            changes["handles"] = handles
    if len(phones) > 20 or len(emails) > 20 or len(handles) > 40:
        raise ValidationFailed("the contact would have too many phones, emails or handles")
    return changes


def _link_recent_threads(session: Session, contact: Contact) -> None:
    """Mark the Contact on the participants of the last week's emails that carry its
    addresses (the email list then shows the enriched Contact, not an unknown sender)."""
    addresses = {str(e).lower() for e in contact.emails or []}
    since = utcnow() - THREAD_UPDATE_WINDOW
    for email in session.scalars(select(ReceivedEmail).where(ReceivedEmail.received_at >= since)):
        changed = False
        updated = []
        for record in email.participants:
            if record["email"] in addresses and record.get("contact_id") != contact.id:
                record = {**record, "contact_id": contact.id}
                changed = True
            updated.append(record)
        if changed:
            email.participants = updated


# --- unknown addresses ------------------------------------------------------------------------


def email_enrichment(session: Session, email_id: int) -> dict[str, Any]:
    """The enrichment window of one email: one group per participant."""
    email = get_email(session, email_id)
    settings = get_settings(session, email.tenant_id)
    groups = []
    for record in email.participants:
        contact = session.get(Contact, record["contact_id"]) if record.get("contact_id") else None
        if contact is not None:
            pending = pending_for_contact(session, contact)
            actions = ["enrich"] if pending else []
        elif not settings.mining_enabled:
            pending, actions = [], []
        else:
            pending = list(
                session.scalars(
                    select(EnrichmentSuggestion)
                    .where(
                        EnrichmentSuggestion.subject_key == f"address:{record['email']}",
                        EnrichmentSuggestion.status == SuggestionStatus.PENDING,
                    )
                    .order_by(EnrichmentSuggestion.id)
                )
            )
            actions = unknown_address_actions(settings, record["email"])
        groups.append(
            {
                "email": record["email"],
                "name": record.get("name", ""),
                "contact_id": contact.id if contact else None,
                "contact_name": contact.name if contact else None,
                "actions": actions,
                "values": [suggestion_view(s, contact) for s in pending],
            }
        )
    return {
        "email_id": email.id,
        "subject": email.subject,
        "mining_enabled": settings.mining_enabled,
        "participants": groups,
    }


def unknown_address_actions(settings: EmailSettings, address: str) -> list[str]:
    """ "create" and "link" exist only while Contacts are not auto-created; free-mail and role
    addresses are never proposed as new Contacts (linking them to one stays possible)."""
    if settings.auto_create_contacts:
        return []
    if is_role_address(address) or is_free_mail(address):
        return ["link"]
    return ["create", "link"]


def connect_participant(
    session: Session,
    email_id: int,
    address: str,
    *,
    contact_id: int | None,
    create: bool,
    name: str | None,
    actor: str,
) -> Contact:
    """Create a Contact for an unknown participant, or add the address to an existing one;
    the address's pending values move to that Contact. A ticket without a contact gets it."""
    email = get_email(session, email_id)
    address = address.strip().lower()
    record = next((p for p in email.participants if p["email"] == address), None)
    if record is None:
        raise NotFound(f"{address} is not a participant of email {email_id}")
    if record.get("contact_id"):
        raise Conflict(
            f"{address} is already a contact", details={"contact_id": record["contact_id"]}
        )
    _require_mining(session, email.tenant_id)
    settings = get_settings(session, email.tenant_id)
    allowed = unknown_address_actions(settings, address)
    if create == (contact_id is not None):
        raise ValidationFailed("give either create=true or a contact_id")
    if create and "create" not in allowed:
        raise Conflict(
            f"{address} cannot be proposed as a new contact", details={"allowed": allowed}
        )
    if not create and "link" not in allowed:
        raise Conflict("contacts are created automatically for this tenant")
    if find_contact_by_email(session, address) is not None:
        raise Conflict(f"{address} already belongs to a contact")
    if create:
        contact = _create_contact(session, address, name or record.get("name") or "")
    else:
        assert contact_id is not None
        contact = crm.get(session, Contact, contact_id)
        crm.update(session, Contact, contact.id, {"emails": [*contact.emails, address]})
    _move_address_suggestions(session, address, contact)
    for email_row in session.scalars(
        select(ReceivedEmail).where(ReceivedEmail.received_at >= utcnow() - THREAD_UPDATE_WINDOW)
    ):
        if any(p["email"] == address for p in email_row.participants):
            email_row.participants = [
                {**p, "contact_id": contact.id} if p["email"] == address else p
                for p in email_row.participants
            ]
    email.participants = [
        {**p, "contact_id": contact.id} if p["email"] == address else p for p in email.participants
    ]
    if email.ticket_id is not None:
        ticket = session.get(Ticket, email.ticket_id)
        if ticket is not None and ticket.contact_id is None:
            ticket.contact_id = contact.id
    audit.record(
        session,
        actor=actor,
        action="contact.create_from_email" if create else "contact.add_email",
        target_type="contact",
        target_id=contact.id,
        details={"email_id": email.id},
    )
    session.flush()
    return contact


def _move_address_suggestions(session: Session, address: str, contact: Contact) -> None:
    region = get_settings(session, contact.tenant_id).default_region
    keys = _contact_keys(contact, region)
    for row in session.scalars(
        select(EnrichmentSuggestion).where(
            EnrichmentSuggestion.subject_key == f"address:{address}",
            EnrichmentSuggestion.status == SuggestionStatus.PENDING,
        )
    ):
        candidate = Candidate(row.field, row.value_key, row.value)
        subject = f"contact:{contact.id}"
        existing = session.scalars(
            select(EnrichmentSuggestion).where(
                EnrichmentSuggestion.subject_key == subject,
                EnrichmentSuggestion.field == row.field,
                EnrichmentSuggestion.value_key == row.value_key,
            )
        ).first()
        if not _is_new(candidate, keys):
            session.delete(row)
        elif existing is None:  # the same row moves, so its id stays valid for the caller
            row.subject_key, row.contact_id = subject, contact.id
        else:
            if existing.status == SuggestionStatus.PENDING:
                existing.sources = [*row.sources, *existing.sources][:MAX_SOURCES]
            session.delete(row)
    session.flush()


# --- emails and tickets -----------------------------------------------------------------------


def get_email(session: Session, email_id: int) -> ReceivedEmail:
    email = session.get(ReceivedEmail, email_id)
    if email is None:
        raise NotFound(f"email {email_id} not found")
    return email


def list_emails(
    session: Session,
    *,
    limit: int,
    cursor: str | None,
    ticket_id: int | None = None,
    failed: bool | None = None,
) -> tuple[list[ReceivedEmail], str | None]:
    """Newest first; ``failed`` keeps only the messages that could (not) be read."""
    stmt = select(ReceivedEmail).order_by(ReceivedEmail.id.desc()).limit(limit + 1)
    after = parse_cursor(cursor)
    if after is not None:
        stmt = stmt.where(ReceivedEmail.id < after)
    if ticket_id is not None:
        stmt = stmt.where(ReceivedEmail.ticket_id == ticket_id)
    if failed is not None:
        stmt = stmt.where(ReceivedEmail.error != "" if failed else ReceivedEmail.error == "")
    rows = list(session.scalars(stmt))
    next_cursor = str(rows[limit - 1].id) if len(rows) > limit else None
    return rows[:limit], next_cursor


def emails_state(session: Session) -> dict[str, Any]:
    """What changes the emails list on its own (an import, a mailbox sync), for its stream."""
    latest, count = session.execute(select(func.max(ReceivedEmail.id), func.count())).one()
    return {"latest": latest, "count": int(count or 0)}


def ticket_enrichment(session: Session, ticket_id: int) -> dict[str, Any]:
    ticket = crm.get(session, Ticket, ticket_id)
    emails, _ = list_emails(session, limit=50, cursor=None, ticket_id=ticket.id)
    return {
        "ticket_id": ticket.id,
        "contact_id": ticket.contact_id,
        "emails": [email_enrichment(session, e.id) for e in emails],
    }


def has_pending(session: Session, email: ReceivedEmail) -> bool:
    view = email_enrichment(session, email.id)
    return any(g["values"] or "create" in g["actions"] for g in view["participants"])


# --- IMAP accounts ----------------------------------------------------------------------------


def create_imap_account(
    session: Session, *, user_id: int | None, values: dict[str, Any]
) -> ImapAccount:
    account = ImapAccount(user_id=user_id, **values)
    session.add(account)
    session.flush()
    return account


def list_imap_accounts(session: Session, *, user_id: int | None, admin: bool) -> list[ImapAccount]:
    stmt = select(ImapAccount).order_by(ImapAccount.id)
    if not admin:
        if user_id is None:  # a key without a user owns no mailbox (``user_id IS NULL``)
            return []
        stmt = stmt.where(ImapAccount.user_id == user_id)
    return list(session.scalars(stmt))


@dataclass(frozen=True, slots=True)
class MailboxIntake:
    """What a mailbox brought in: messages imported, messages that could not be read and
    why (the most frequent reasons first)."""

    imported: int = 0
    failed: int = 0
    reasons: tuple[tuple[str, int], ...] = ()


def mailbox_intake(session: Session, account_ids: Sequence[int]) -> dict[int, MailboxIntake]:
    """Each mailbox's imported and failed messages, by id (mailboxes with none are absent)."""
    if not account_ids:
        return {}
    rows = session.execute(
        select(ReceivedEmail.imap_account_id, ReceivedEmail.error, func.count())
        .where(ReceivedEmail.imap_account_id.in_(set(account_ids)))
        .group_by(ReceivedEmail.imap_account_id, ReceivedEmail.error)
    ).all()
    imported: dict[int, int] = {}
    reasons: dict[int, list[tuple[str, int]]] = {}
    for account_id, error, count in rows:
        if account_id is None:
            continue
        if error:
            reasons.setdefault(account_id, []).append((error, int(count)))
        else:
            imported[account_id] = int(count)
    return {
        account_id: MailboxIntake(
            imported=imported.get(account_id, 0),
            failed=sum(n for _, n in reasons.get(account_id, [])),
            reasons=tuple(sorted(reasons.get(account_id, []), key=lambda r: (-r[1], r[0]))[:5]),
        )
        for account_id in set(imported) | set(reasons)
    }


def mailboxes_state(session: Session, *, user_id: int | None, admin: bool) -> dict[str, Any]:
    """What a mailboxes list shows that changes on its own, for its live stream."""
    boxes = list_imap_accounts(session, user_id=user_id, admin=admin)
    intake = mailbox_intake(session, [b.id for b in boxes])
    return {
        "mailboxes": [
            [
                b.id,
                b.last_sync_at,
                b.last_error,
                b.syncing,
                intake.get(b.id, MailboxIntake()).imported,
                intake.get(b.id, MailboxIntake()).failed,
            ]
            for b in boxes
        ]
    }


def get_imap_account(
    session: Session, account_id: int, *, user_id: int | None, admin: bool
) -> ImapAccount:
    account = session.get(ImapAccount, account_id)
    if account is None or (not admin and (user_id is None or account.user_id != user_id)):
        raise NotFound(f"IMAP account {account_id} not found")
    return account


def connect_mailbox(session: Session, principal: Principal, values: dict[str, Any]) -> ImapAccount:
    """A mailbox of the caller's (its host must be a public address), audit-logged; it is
    synced every few minutes from now on."""
    from socialcrm.signatures.imap import checked_addresses

    if principal.user_id is None and principal.role != Role.ADMIN:
        raise Forbidden(
            "a mailbox belongs to a person: connect it with a key of a user, or as an admin"
        )
    checked_addresses(str(values["host"]), int(values["port"]))
    account = create_imap_account(session, user_id=principal.user_id, values=values)
    audit.record(
        session,
        actor=principal.actor,
        action="imap_account.create",
        target_type="imap_account",
        target_id=account.id,
        details={"host": account.host, "username": account.username},
    )
    return account


def delete_imap_account(session: Session, principal: Principal, account_id: int) -> None:
    """Stop syncing and forget the mailbox (its imported emails stay), audit-logged."""
    account = get_imap_account(
        session, account_id, user_id=principal.user_id, admin=principal.role == Role.ADMIN
    )
    audit.record(
        session,
        actor=principal.actor,
        action="imap_account.delete",
        target_type="imap_account",
        target_id=account.id,
        details={"host": account.host, "username": account.username},
    )
    session.delete(account)
    session.flush()

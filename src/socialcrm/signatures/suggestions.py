"""A person's side of email enrichment: what is pending for a Contact, an email or a ticket,
accepting or rejecting values, and turning an unknown participant into a Contact.

Sessions are tenant-scoped (``core.db``); nothing here filters by tenant by hand. Contacts are
read and written through ``crm.service`` only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from socialcrm.core import audit
from socialcrm.core.db import utcnow
from socialcrm.core.errors import Conflict, NotFound, ValidationFailed
from socialcrm.crm import phones as crm_phones
from socialcrm.crm import service as crm
from socialcrm.crm import tickets
from socialcrm.crm.models import Contact, Ticket
from socialcrm.signatures.addresses import is_free_mail, is_role_address
from socialcrm.signatures.candidates import (
    MAX_SOURCES,
    Candidate,
    contact_keys,
    create_contact,
    find_contact_by_email,
    is_new,
)
from socialcrm.signatures.inbox import get_email, list_emails
from socialcrm.signatures.models import (
    EnrichmentSuggestion,
    ReceivedEmail,
    SuggestionStatus,
)
from socialcrm.signatures.policy import EmailSettings, get_settings, require_mining

THREAD_UPDATE_WINDOW = timedelta(days=7)
COMPLETENESS_FIELDS = ("name", "emails", "phones", "company", "title", "website", "location")
SINGLE_FIELDS = ("name", "title", "company", "website")
_LIMITS = {"name": 200, "title": 200, "company": 200, "website": 500}


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
    keys = contact_keys(contact, region)
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
    require_mining(session, contact.tenant_id)
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
    require_mining(session, email.tenant_id)
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
        contact = create_contact(session, address, name or record.get("name") or "")
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
        tickets.attach_contact(session, email.ticket_id, contact.id)
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
    keys = contact_keys(contact, region)
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
        if not is_new(candidate, keys):
            session.delete(row)
        elif existing is None:  # the same row moves, so its id stays valid for the caller
            row.subject_key, row.contact_id = subject, contact.id
        else:
            if existing.status == SuggestionStatus.PENDING:
                existing.sources = [*row.sources, *existing.sources][:MAX_SOURCES]
            session.delete(row)
    session.flush()

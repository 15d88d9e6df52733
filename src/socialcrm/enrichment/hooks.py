"""How the CRM's Contacts reach enrichment: handlers of the CRM's events (wired in
``socialcrm.wiring``).

- a Contact is created, or its emails, phones or handles change (``ContactChanged``): its
  screen-pop keys are rewritten and enrichment is queued after the commit (trigger A);
- a Contact withdraws its enrichment consent (``ContactChanged``): the posts no Contact
  allows any more are deleted (audit-logged);
- a Contact is erased (``ContactErased``): its links and keys go by foreign-key cascade, the
  snapshots and posts of profiles no other Contact shares are erased (``ProfilesReleased``,
  before the commit), and so are the Contact's identity profiles and aliases (the identity
  domain's ``forget_contact``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, delete, exists, insert, select
from sqlalchemy.orm import Session

from socialcrm.connections.models import AccountStatus, SocialAccount
from socialcrm.core.queue import enqueue_after_commit
from socialcrm.crm.events import ContactChanged, ContactErased
from socialcrm.crm.models import Contact
from socialcrm.enrichment.keys import contact_keys
from socialcrm.enrichment.models import ContactKey
from socialcrm.enrichment.retention import (
    Profile,
    erase_unshared_profiles,
    forget_disallowed_posts,
    profiles_of,
)

WATCHED = ("emails", "phones", "handles")


@dataclass(frozen=True, slots=True)
class ProfilesReleased:
    """An erased Contact held these profiles: those no other Contact shares are erased."""

    tenant_id: int
    profiles: frozenset[Profile]


def _changed(contact: Contact, change: ContactChanged) -> bool:
    return any(
        name in change.fields
        and _lookup_values(name, getattr(contact, name))
        != _lookup_values(name, change.previous.get(name))
        for name in WATCHED
    )


def _lookup_values(name: str, value: Any) -> list[Any]:
    """What lookups use of a watched field: a phone's number, not its type (a type changed
    on the Contact page is no reason to look the Contact up again)."""
    if name != "phones":
        return list(value or [])
    return [p.get("number") if isinstance(p, dict) else p for p in (value or [])]


def on_contact_changed(session: Session, change: ContactChanged) -> None:
    """NOW (inside the flush): keys, enrichment, consent withdrawn."""
    contact = session.get(Contact, change.contact_id)
    if contact is None:
        return
    if change.created or _changed(contact, change):
        _rewrite_keys(session, [contact])
        _queue_enrichment(session, [contact])
    if change.previous.get("enrichment_consent") and not contact.enrichment_consent:
        _forget_posts(
            session,
            change.tenant_id,
            profiles_of(session, change.tenant_id, [contact.id]),
            ("contact", contact.id),
            "the Contact withdrew its enrichment consent",
        )


def on_contact_erased(session: Session, erased: ContactErased) -> None:
    """NOW (before the flush that deletes the row): what it held is noted, its identity
    profiles go before the row (SET NULL) does."""
    from socialcrm.core import events
    from socialcrm.identity.backfill import forget_contact

    tenant_id = erased.tenant_id
    profiles = profiles_of(session, tenant_id, [erased.contact_id])
    forget_contact(session, tenant_id, erased.contact_id)
    events.emit(session, ProfilesReleased(tenant_id, frozenset(profiles)))


def on_profiles_released(session: Session, released: ProfilesReleased) -> None:
    """BEFORE_COMMIT (the Contact's links are gone): erase what nobody shares any more."""
    erase_unshared_profiles(session, released.tenant_id, set(released.profiles))
    _forget_posts(
        session,
        released.tenant_id,
        set(released.profiles),
        ("tenant", released.tenant_id),
        "a Contact holding the profiles was erased",
    )


def _forget_posts(
    session: Session,
    tenant_id: int,
    profiles: set[Profile],
    target: tuple[str, object],
    reason: str,
) -> None:
    if not profiles:
        return
    from socialcrm.enrichment.service import tenant_policy

    policy = tenant_policy(session, tenant_id)
    forget_disallowed_posts(
        session, tenant_id, policy, profiles, actor="system", reason=reason, target=target
    )


def _rewrite_keys(session: Session, contacts: list[Contact]) -> None:
    connection = session.connection()
    ids = [c.id for c in contacts]
    table = ContactKey.__table__
    assert isinstance(table, Table)
    connection.execute(delete(table).where(table.c.contact_id.in_(ids)))
    rows = [
        {"tenant_id": c.tenant_id, "contact_id": c.id, "kind": kind, "value": value}
        for c in contacts
        for kind, value in sorted(contact_keys(c.emails or [], c.phones or [], c.handles or []))
    ]
    if rows:
        connection.execute(insert(table), rows)


def _queue_enrichment(session: Session, contacts: list[Contact]) -> None:
    tenants = {c.tenant_id for c in contacts}
    connected = {
        t
        for t in tenants
        if session.connection().scalar(
            select(
                exists().where(
                    SocialAccount.__table__.c.tenant_id == t,
                    SocialAccount.__table__.c.status == AccountStatus.ACTIVE,
                )
            )
        )
    }
    if not connected:
        return
    from socialcrm.enrichment.tasks import enrich_contact

    for contact in contacts:
        if contact.tenant_id in connected:
            enqueue_after_commit(session, enrich_contact, contact.tenant_id, contact.id, once=True)

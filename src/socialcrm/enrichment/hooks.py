"""How the CRM's Contacts reach enrichment, without the CRM knowing (SQLAlchemy events).

- a Contact is created, or its emails, phones or handles change: its screen-pop keys are
  rewritten and enrichment is queued after the commit (trigger A);
- a Contact withdraws its enrichment consent: the posts no Contact allows any more are deleted
  (audit-logged);
- a Contact is deleted (erased): its links and keys go by foreign-key cascade, the snapshots
  and posts of profiles no other Contact shares are erased, and so are the Contact's identity
  profiles and aliases (the identity domain's ``forget_contact``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, delete, event, exists, insert, inspect, select
from sqlalchemy.orm import Session

from socialcrm.connections.models import AccountStatus, SocialAccount
from socialcrm.core.queue import enqueue_after_commit
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
_DELETED_PROFILES = "socialcrm.enrichment.deleted_profiles"
_QUEUED = "socialcrm.enrichment.queued"


def _changed(contact: Contact) -> bool:
    state = inspect(contact)
    for name in WATCHED:
        history = state.attrs[name].history
        if history.added and _lookup_values(name, history.added) != _lookup_values(
            name, history.deleted or []
        ):
            return True
    return False


def _lookup_values(name: str, values: Any) -> list[Any]:
    """What lookups use of a watched field: a phone's number, not its type (a type changed
    on the Contact page is no reason to look the Contact up again)."""
    if name != "phones":
        return list(values)
    return [
        [p.get("number") if isinstance(p, dict) else p for p in (value or [])] for value in values
    ]


@event.listens_for(Session, "before_flush")
def _before_flush(session: Session, _ctx: Any, _instances: Any) -> None:
    deleted = [obj for obj in session.deleted if isinstance(obj, Contact)]
    if not deleted:
        return
    from socialcrm.identity.backfill import forget_contact

    erased: dict[int, set[Profile]] = session.info.setdefault(_DELETED_PROFILES, {})
    for contact in deleted:
        tenant_id = contact.tenant_id
        erased.setdefault(tenant_id, set()).update(profiles_of(session, tenant_id, [contact.id]))
        forget_contact(session, tenant_id, contact.id)  # before the row (SET NULL) goes


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _ctx: Any) -> None:
    touched = [
        obj
        for obj in list(session.new) + list(session.dirty)
        if isinstance(obj, Contact) and (obj in session.new or _changed(obj))
    ]
    if touched:
        _rewrite_keys(session, touched)
        _queue_enrichment(session, touched)
    for contact in [o for o in session.dirty if isinstance(o, Contact) and _withdrew(o)]:
        tenant_id = contact.tenant_id
        _forget_posts(
            session,
            tenant_id,
            profiles_of(session, tenant_id, [contact.id]),
            ("contact", contact.id),
            "the Contact withdrew its enrichment consent",
        )
    for tenant_id, profiles in session.info.pop(_DELETED_PROFILES, {}).items():
        erase_unshared_profiles(session, tenant_id, profiles)
        _forget_posts(
            session,
            tenant_id,
            profiles,
            ("tenant", tenant_id),
            "a Contact holding the profiles was erased",
        )


def _withdrew(contact: Contact) -> bool:
    """Consent was given and is now withdrawn (not: a Contact created without it)."""
    before = inspect(contact).attrs.enrichment_consent.history.deleted
    return any(before) and not contact.enrichment_consent


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

    queued: set[int] = session.info.setdefault(_QUEUED, set())
    for contact in contacts:
        if contact.tenant_id in connected and contact.id not in queued:
            queued.add(contact.id)
            enqueue_after_commit(session, enrich_contact, contact.tenant_id, contact.id)


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _forget_queued(session: Session) -> None:
    session.info.pop(_QUEUED, None)

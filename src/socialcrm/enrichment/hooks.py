"""How the CRM's Contacts reach enrichment, without the CRM knowing (SQLAlchemy events).

- a Contact is created, or its emails, phones or handles change: its screen-pop keys are
  rewritten and enrichment is queued after the commit (trigger A);
- a Contact is deleted: its links and keys go by foreign-key cascade, and snapshots and posts
  of profiles no other Contact links to are erased.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, delete, event, exists, insert, inspect, select
from sqlalchemy.orm import Session

from socialcrm.connections.models import AccountStatus, SocialAccount
from socialcrm.core.queue import enqueue_after_commit
from socialcrm.crm.models import Contact
from socialcrm.enrichment.keys import contact_keys
from socialcrm.enrichment.models import ContactKey, SocialProfileLink

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
    rows = session.execute(
        select(SocialProfileLink.provider, SocialProfileLink.external_user_id).where(
            SocialProfileLink.contact_id.in_([c.id for c in deleted])
        )
    ).all()
    session.info.setdefault(_DELETED_PROFILES, set()).update((p, u) for p, u in rows)


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
    profiles = session.info.pop(_DELETED_PROFILES, None)
    if profiles:
        from socialcrm.enrichment.service import purge_orphan_profiles

        purge_orphan_profiles(session, profiles)


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

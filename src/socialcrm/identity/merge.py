"""Merging records that turn out to be one customer: every relation moves to the survivor.

Relations are found from the schema, not from a hand-kept list: every table with a foreign
key to ``contacts.id`` (activities, tickets, leads, identity profiles, and whatever later
domains add — social links, mentions, campaign attribution) has its rows re-pointed at the
surviving Contact. A domain whose table needs more than re-pointing (e.g. a UNIQUE constraint
that two merged rows would break) registers a hook with ``register_contact_merge_hook``; a
re-point that would break a constraint without a hook aborts the merge (409), never loses data.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Table, select, update
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session

from socialcrm.core.db import Base
from socialcrm.core.errors import Conflict, NotFound, ValidationFailed
from socialcrm.crm import leads
from socialcrm.crm import service as crm
from socialcrm.crm.models import Contact, Lead
from socialcrm.identity.graph import invalidate, record_identity
from socialcrm.identity.models import IdentityProfile

# (session, tenant_id, source contact id, target contact id) -> rows moved
ContactMergeHook = Callable[[Session, int, int, int], int]
_HOOKS: dict[str, ContactMergeHook] = {}

MERGEABLE_FIELDS = ("name", "company", "title", "website", "location", "tier", "owner_id")
_LIST_FIELDS = ("emails", "phones", "handles")
_TYPE_FIELDS = ("email_types",)


def register_contact_merge_hook(table_name: str, hook: ContactMergeHook) -> None:
    """Let the domain owning ``table_name`` move its own rows when two Contacts merge."""
    _HOOKS[table_name] = hook


def _contact_references() -> list[tuple[Table, str]]:
    refs: list[tuple[Table, str]] = []
    for table in Base.metadata.sorted_tables:
        if table.name == "contacts":
            continue
        for fk in table.foreign_keys:
            if fk.column.table.name == "contacts" and fk.column.name == "id":
                refs.append((table, fk.parent.name))
    return refs


def merge_contacts(
    session: Session, tenant_id: int, *, source_id: int, target_id: int, keep: list[str]
) -> tuple[dict[str, Any], dict[str, int]]:
    """Fold Contact ``source_id`` into ``target_id``; returns (source snapshot, rows moved).

    The survivor keeps its own values except the fields named in ``keep``; emails, phones and
    handles are united. The source Contact is deleted once nothing refers to it.
    """
    if source_id == target_id:
        raise ValidationFailed("a contact cannot be merged into itself")
    source = crm.get(session, Contact, source_id)
    target = crm.get(session, Contact, target_id)
    unknown = set(keep) - set(MERGEABLE_FIELDS)
    if unknown:
        raise ValidationFailed(f"these fields cannot be picked: {', '.join(sorted(unknown))}")
    snapshot = _snapshot(source)
    moved: dict[str, int] = {}
    for table, column in _contact_references():
        if table.name in _HOOKS:
            moved[table.name] = _HOOKS[table.name](session, tenant_id, source_id, target_id)
            continue
        stmt = update(table).where(table.c[column] == source_id).values({column: target_id})
        if "tenant_id" in table.c:
            stmt = stmt.where(table.c.tenant_id == tenant_id)
        try:
            with session.begin_nested():
                count = session.execute(stmt.execution_options(synchronize_session=False))
        except sa_exc.IntegrityError:
            raise Conflict(
                f"moving {table.name} rows would break one of its constraints; "
                "its domain must register a merge hook",
                details={"table": table.name},
            ) from None
        rowcount = int(getattr(count, "rowcount", 0) or 0)
        if rowcount:
            moved[f"{table.name}.{column}"] = moved.get(f"{table.name}.{column}", 0) + rowcount
    changes: dict[str, Any] = {field: getattr(source, field) for field in keep}
    for field in _LIST_FIELDS:
        changes[field] = _union(getattr(target, field), getattr(source, field))
    for field in _TYPE_FIELDS:  # the survivor's type of an address wins
        changes[field] = {**(getattr(source, field) or {}), **(getattr(target, field) or {})}
    session.expire_all()  # rows moved underneath the identity map
    crm.delete(session, Contact, source_id)
    crm.update(session, Contact, target_id, changes)
    invalidate(session, tenant_id, contact_ids=(source_id, target_id))
    return snapshot, moved


def merge_lead_into_contact(
    session: Session, tenant_id: int, *, lead_id: int, contact_id: int
) -> dict[str, int]:
    """A guest Lead turns out to be a known customer: its identities and history follow."""
    lead = crm.get(session, Lead, lead_id)
    crm.get(session, Contact, contact_id)
    if lead.contact_id not in (None, contact_id):
        raise Conflict(
            f"lead {lead_id} already belongs to contact {lead.contact_id}",
            details={"contact_id": lead.contact_id},
        )
    leads.mark_converted(session, lead_id, contact_id)
    profiles = list(
        session.scalars(
            select(IdentityProfile).where(
                IdentityProfile.tenant_id == tenant_id, IdentityProfile.lead_id == lead_id
            )
        )
    )
    for profile in profiles:
        record_identity(
            session,
            contact_id,
            profile.network,
            profile.user_id,
            profile.handle,
            "review",
            relink=True,
        )
    session.flush()
    return {"leads": 1, "identity_profiles": len(profiles)}


def _union(first: list[Any], second: list[Any]) -> list[Any]:
    out = list(first)
    for item in second:
        if item not in out:
            out.append(item)
    return out


def _snapshot(contact: Contact) -> dict[str, Any]:
    return {
        "id": contact.id,
        "name": contact.name,
        "emails": list(contact.emails),
        "phones": list(contact.phones),
        "company": contact.company,
        "title": contact.title,
        "website": contact.website,
        "location": contact.location,
        "handles": list(contact.handles),
        "tier": str(contact.tier),
        "owner_id": contact.owner_id,
        "account_id": contact.account_id,
    }


def ensure_exists(session: Session, contact_id: int) -> None:
    if session.get(Contact, contact_id) is None:
        raise NotFound(f"contact {contact_id} not found")


def merge_choices(target: Contact, source: Contact) -> list[tuple[str, Any, Any]]:
    """The fields a merge of ``source`` into ``target`` decides, side by side: those where the
    two Contacts differ and the source has a value (the survivor keeps its own otherwise)."""
    return [
        (field, getattr(target, field), getattr(source, field))
        for field in MERGEABLE_FIELDS
        if getattr(source, field) not in (None, "")
        and getattr(target, field) != getattr(source, field)
    ]

"""Worker-side graph maintenance: backfill Contacts' handles into the graph, erase a Contact's
identities."""

from __future__ import annotations

import structlog
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from socialcrm.crm.models import Contact
from socialcrm.identity import graph, lookups
from socialcrm.identity.models import (
    EmailHandleLink,
    HandleAlias,
    IdentityProfile,
)

log = structlog.get_logger(__name__)

# --- backfill ----------------------------------------------------------------------------------


def contact_ids_with_handles(session: Session, tenant_id: int) -> list[int]:
    rows = session.execute(
        select(Contact.id, Contact.handles)
        .where(Contact.tenant_id == tenant_id)
        .order_by(Contact.id)
        .execution_options(yield_per=5000)
    )
    return [cid for cid, handles in rows if handles]


def sync_contacts(session: Session, tenant_id: int, contact_ids: list[int]) -> int:
    """Put these Contacts' handles into the graph (an install that predates identity)."""
    return sum(graph.sync_contact(session, tenant_id, cid) for cid in contact_ids)


# --- erasure -----------------------------------------------------------------------------------


def forget_contact(session: Session, tenant_id: int, contact_id: int) -> int:
    """A Contact is being erased: its profiles in the graph (with every handle alias they had)
    and its email-to-handle links go, except a profile a guest Lead still holds. Returns the
    profiles erased."""
    profiles = lookups.profiles_of_contact(session, tenant_id, contact_id)
    keys = [key for profile in profiles for key in graph.cache_keys(tenant_id, profile)]
    graph.invalidate(session, tenant_id, contact_ids=(contact_id,), keys=keys)
    erased = [p.id for p in profiles if p.lead_id is None]
    for model, column, values in (
        (HandleAlias, HandleAlias.profile_id, erased),
        (IdentityProfile, IdentityProfile.id, erased),
        (EmailHandleLink, EmailHandleLink.contact_id, [contact_id]),
    ):
        session.execute(
            delete(model)
            .where(model.tenant_id == tenant_id, column.in_(values))
            .execution_options(synchronize_session=False)
        )
    return len(erased)

"""The identity graph's read side: profiles by the network's user id, by Contact, by handle
history and look-alikes, and the email links (the write side is ``graph``).

The hottest reads are Core statements on the session's connection, built once with parameters;
each names its tenant, and ``read_rows`` refuses a tenant other than the session's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Executable, Row, bindparam, select
from sqlalchemy.orm import Session

from socialcrm.core.db import TenantScopeMissing
from socialcrm.crm.models import Contact
from socialcrm.identity.models import EmailHandleLink, HandleAlias, IdentityProfile

# The statements of the hottest lookups are built once, with parameters: building a statement
# costs as much as running it on an indexed key.
_BY_USER_ID = select(IdentityProfile).where(
    IdentityProfile.tenant_id == bindparam("tenant_id"),
    IdentityProfile.network == bindparam("network"),
    IdentityProfile.user_id == bindparam("user_id"),
)
_OF_CONTACT = (
    select(IdentityProfile)
    .where(
        IdentityProfile.tenant_id == bindparam("tenant_id"),
        IdentityProfile.contact_id == bindparam("contact_id"),
    )
    .order_by(IdentityProfile.updated_at, IdentityProfile.id)
)


# The resolve path's reads are Core statements on the session's connection: rows, not
# hydrated models, and no per-statement tenant criteria (the ORM's tenant guard). Each names its
# tenant, and ``read_rows`` refuses a tenant other than the session's.
_PROFILES = IdentityProfile.__table__
_ACCOUNT_BY_USER_ID = select(
    _PROFILES.c.id,
    _PROFILES.c.contact_id,
    _PROFILES.c.lead_id,
    _PROFILES.c.handle,
    _PROFILES.c.user_id,
).where(
    _PROFILES.c.tenant_id == bindparam("tenant_id"),
    _PROFILES.c.network == bindparam("network"),
    _PROFILES.c.user_id == bindparam("user_id"),
)


def read_rows(
    session: Session, statement: Executable, params: Mapping[str, Any]
) -> Sequence[Row[Any]]:
    """Run a read that names its tenant (``params["tenant_id"]``) as Core, in the session's
    transaction, after flushing what the session holds (as the ORM's autoflush would)."""
    scoped = session.info.get("tenant_id")
    if scoped is None and not session.info.get("system"):
        raise TenantScopeMissing("tenant data queried without a tenant")
    if scoped is not None and scoped != params["tenant_id"]:
        raise TenantScopeMissing("a read named another tenant than the session's")
    session.flush()
    return session.connection().execute(statement, params).all()


def account_by_user_id(
    session: Session, tenant_id: int, network: str, user_id: str
) -> Row[Any] | None:
    """The profile's id, contact_id, lead_id, handle and user_id (a row, not a model)."""
    params = {"tenant_id": tenant_id, "network": network, "user_id": user_id}
    rows = read_rows(session, _ACCOUNT_BY_USER_ID, params)
    return rows[0] if rows else None


def profile_by_user_id(
    session: Session, tenant_id: int, network: str, user_id: str
) -> IdentityProfile | None:
    params = {"tenant_id": tenant_id, "network": network, "user_id": user_id}
    return session.scalars(_BY_USER_ID, params).first()


def aliases_for_handle(
    session: Session, tenant_id: int, network: str, handle: str
) -> list[tuple[HandleAlias, IdentityProfile]]:
    rows = session.execute(
        select(HandleAlias, IdentityProfile)
        .join(IdentityProfile, IdentityProfile.id == HandleAlias.profile_id)
        .where(
            HandleAlias.tenant_id == tenant_id,
            HandleAlias.network == network,
            HandleAlias.handle == handle,
        )
        .limit(20)
    ).all()
    return _without_copies([(a, p) for a, p in rows])


def _without_copies(
    rows: list[tuple[HandleAlias, IdentityProfile]],
) -> list[tuple[HandleAlias, IdentityProfile]]:
    """Drop user-id-less copies of an account the graph knows by its user id.

    Earlier versions recorded every handle-only match as a profile of its own (no user id); a
    Contact's account known by id makes such a copy meaningless, and a copy that outlives the
    account's rename would hand the freed handle to its next owner.
    """
    known = {p.contact_id for _, p in rows if p.user_id is not None and p.contact_id is not None}
    return [(a, p) for a, p in rows if p.user_id is not None or p.contact_id not in known]


def look_alikes(
    session: Session, tenant_id: int, network: str, skeletons: tuple[str, ...], handle: str
) -> list[tuple[HandleAlias, IdentityProfile]]:
    """Known handles of ``network`` that look like ``handle`` but are not it."""
    rows = session.execute(
        select(HandleAlias, IdentityProfile)
        .join(IdentityProfile, IdentityProfile.id == HandleAlias.profile_id)
        .where(
            HandleAlias.tenant_id == tenant_id,
            HandleAlias.network == network,
            HandleAlias.skeleton.in_(skeletons),
            HandleAlias.handle != handle,
        )
        .limit(10)
    ).all()
    return [(a, p) for a, p in rows if p.contact_id is not None or p.lead_id is not None]


def same_name_elsewhere(
    session: Session, tenant_id: int, network: str, local: str
) -> list[tuple[HandleAlias, IdentityProfile]]:
    """Current handles with the same account name on other networks (a weak signal)."""
    rows = session.execute(
        select(HandleAlias, IdentityProfile)
        .join(IdentityProfile, IdentityProfile.id == HandleAlias.profile_id)
        .where(
            HandleAlias.tenant_id == tenant_id,
            HandleAlias.local == local,
            HandleAlias.network != network,
            HandleAlias.retired_at.is_(None),
            IdentityProfile.contact_id.is_not(None),
        )
        .limit(10)
    ).all()
    return [(a, p) for a, p in rows]


def email_links(
    session: Session, tenant_id: int, network: str, handle: str, user_id: str | None
) -> list[EmailHandleLink]:
    cond = EmailHandleLink.handle == handle
    if user_id:
        cond = cond | (EmailHandleLink.user_id == user_id)
    return list(
        session.scalars(
            select(EmailHandleLink)
            .where(EmailHandleLink.tenant_id == tenant_id, EmailHandleLink.network == network, cond)
            .limit(20)
        )
    )


def contacts_with_email(session: Session, tenant_id: int, email: str) -> list[int]:
    """Contacts that carry ``email`` (exact, case-insensitive); a scan narrowed by LIKE."""
    needle = email.strip().lower()
    escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    rows = session.execute(
        select(Contact.id, Contact.emails)
        .where(
            Contact.tenant_id == tenant_id, Contact.search_text.like(f"%{escaped}%", escape="\\")
        )
        .limit(50)
    ).all()
    return [cid for cid, emails in rows if needle in {str(e).strip().lower() for e in emails}]


def profiles_of_contact(session: Session, tenant_id: int, contact_id: int) -> list[IdentityProfile]:
    return list(session.scalars(_OF_CONTACT, {"tenant_id": tenant_id, "contact_id": contact_id}))

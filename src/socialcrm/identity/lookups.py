"""The identity graph's read side: profiles by the network's user id, by Contact, by handle
history and look-alikes, and the email links (the write side is ``graph``).

The hottest reads are Core statements on the session's connection, built once with parameters;
each names its tenant, and ``read_rows`` refuses a tenant other than the session's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Executable, Row, bindparam, func, select
from sqlalchemy.orm import Session

from socialcrm.core.db import TenantScopeMissing
from socialcrm.crm.models import Activity, Contact
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
_C, _P, _A = Contact.__table__.c, _PROFILES.c, Activity.__table__.c
# What an answer says about a Contact: the Contact, its last interaction and every profile
# linked to it (one row per profile, oldest first; one row without a profile when it has none).
_CARD_COLUMNS = (
    _C.id,
    _C.name,
    _C.tier,
    _C.preferred_channel,
    _C.language,
    _C.marketing_consent,
    _C.enrichment_consent,
    _C.profile_updated_at,
    _C.updated_at,
    select(func.max(func.coalesce(_A.occurred_at, _A.created_at)))
    .where(_A.tenant_id == _C.tenant_id, _A.contact_id == _C.id)
    .scalar_subquery()
    .label("last_interaction"),
    _P.network,
    _P.user_id,
    _P.handle,
    _P.url,
)
_CARD_PROFILES: ColumnElement[bool] = (_P.tenant_id == _C.tenant_id) & (_P.contact_id == _C.id)
_CONTACT_CARD = (
    select(*_CARD_COLUMNS)
    .select_from(Contact.__table__.outerjoin(_PROFILES, _CARD_PROFILES))
    .where(_C.tenant_id == bindparam("tenant_id"), _C.id == bindparam("contact_id"))
    .order_by(_P.updated_at, _P.id)
)
# The account a platform user id is known by and, in the same round trip, its Contact's card:
# the usual sender in front of routing is answered with this one statement.
_ACCOUNT = _PROFILES.alias("account")
_ACCOUNT_CARD = (
    select(
        _ACCOUNT.c.id.label("account_id"),
        _ACCOUNT.c.contact_id.label("account_contact_id"),
        _ACCOUNT.c.lead_id.label("account_lead_id"),
        _ACCOUNT.c.handle.label("account_handle"),
        _ACCOUNT.c.user_id.label("account_user_id"),
        *_CARD_COLUMNS,
    )
    .select_from(
        _ACCOUNT.outerjoin(
            Contact.__table__,
            (_C.tenant_id == _ACCOUNT.c.tenant_id) & (_C.id == _ACCOUNT.c.contact_id),
        ).outerjoin(_PROFILES, _CARD_PROFILES)
    )
    .where(
        _ACCOUNT.c.tenant_id == bindparam("tenant_id"),
        _ACCOUNT.c.network == bindparam("network"),
        _ACCOUNT.c.user_id == bindparam("user_id"),
    )
    .order_by(_P.updated_at, _P.id)
)


class Account(NamedTuple):
    """A profile of the graph as the resolve path reads it (no model)."""

    id: int
    contact_id: int | None
    lead_id: int | None
    handle: str
    user_id: str | None


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


def account_with_card(
    session: Session, tenant_id: int, network: str, user_id: str
) -> tuple[Account, Sequence[Row[Any]]] | None:
    """The profile a platform user id is known by and the card of its Contact
    (``contact_card``; empty when the profile has no Contact), in one statement."""
    params = {"tenant_id": tenant_id, "network": network, "user_id": user_id}
    rows = read_rows(session, _ACCOUNT_CARD, params)
    if not rows:
        return None
    first = rows[0]
    account = Account(
        first.account_id,
        first.account_contact_id,
        first.account_lead_id,
        first.account_handle,
        first.account_user_id,
    )
    return account, rows if first.id is not None else ()


def contact_card(session: Session, tenant_id: int, contact_id: int) -> Sequence[Row[Any]]:
    """The Contact, its last interaction and its linked profiles (``_CONTACT_CARD``'s rows;
    empty when there is no such Contact)."""
    return read_rows(session, _CONTACT_CARD, {"tenant_id": tenant_id, "contact_id": contact_id})


def profile_by_user_id(
    session: Session, tenant_id: int, network: str, user_id: str
) -> IdentityProfile | None:
    params = {"tenant_id": tenant_id, "network": network, "user_id": user_id}
    return session.scalars(_BY_USER_ID, params).first()


def _aliases(
    session: Session, tenant_id: int, *where: ColumnElement[bool], limit: int
) -> list[tuple[HandleAlias, IdentityProfile]]:
    """Handles of the tenant's graph that match ``where``, each with its profile."""
    rows = session.execute(
        select(HandleAlias, IdentityProfile)
        .join(IdentityProfile, IdentityProfile.id == HandleAlias.profile_id)
        .where(HandleAlias.tenant_id == tenant_id, *where)
        .limit(limit)
    ).all()
    return [(a, p) for a, p in rows]


def aliases_for_handle(
    session: Session, tenant_id: int, network: str, handle: str
) -> list[tuple[HandleAlias, IdentityProfile]]:
    rows = _aliases(
        session, tenant_id, HandleAlias.network == network, HandleAlias.handle == handle, limit=20
    )
    return _without_copies(rows)


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
    rows = _aliases(
        session,
        tenant_id,
        HandleAlias.network == network,
        HandleAlias.skeleton.in_(skeletons),
        HandleAlias.handle != handle,
        limit=10,
    )
    return [(a, p) for a, p in rows if p.contact_id is not None or p.lead_id is not None]


def same_name_elsewhere(
    session: Session, tenant_id: int, network: str, local: str
) -> list[tuple[HandleAlias, IdentityProfile]]:
    """Current handles with the same account name on other networks (a weak signal)."""
    return _aliases(
        session,
        tenant_id,
        HandleAlias.local == local,
        HandleAlias.network != network,
        HandleAlias.retired_at.is_(None),
        IdentityProfile.contact_id.is_not(None),
        limit=10,
    )


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

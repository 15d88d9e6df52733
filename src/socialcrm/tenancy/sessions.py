"""Browser login sessions, kept on the server.

The cookie carries a random 256-bit token and nothing else that grants access; the database
keeps only its SHA-256, with the user, the tenant and the expiry. So logging out ends the
session for every copy of the cookie, an admin deactivating a user (or an operator a tenant)
ends theirs, and the user's role is read at each request rather than frozen in the cookie.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import ColumnElement, delete, select, update
from sqlalchemy.orm import Session

from socialcrm.core.db import utcnow
from socialcrm.core.principal import Role
from socialcrm.core.settings import get_settings
from socialcrm.tenancy.models import LoginSession, Tenant, User

# ``last_seen_at`` is written at most this often per session: a page's requests (its live
# stream, its fetches) cost one write a minute, not one each; idle expiry is as coarse.
TOUCH_EVERY = timedelta(seconds=60)


def token_digest(raw: str) -> str:
    """Tokens carry 256 bits of entropy, so a plain SHA-256 is the right (fast) hash."""
    return hashlib.sha256(raw.encode()).hexdigest()


def start_session(session: Session, *, tenant_id: int, user_id: int) -> str:
    """A new login of ``user_id``; returns the raw token for the cookie (never stored)."""
    now = utcnow()
    # Housekeeping at each login: sessions past their absolute expiry can go (revoked or not).
    session.execute(delete(LoginSession).where(LoginSession.expires_at < now))
    raw = secrets.token_urlsafe(32)
    session.add(
        LoginSession(
            tenant_id=tenant_id,
            user_id=user_id,
            token_hash=token_digest(raw),
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(seconds=get_settings().session_max_age_s),
        )
    )
    session.flush()
    return raw


def resume_session(session: Session, raw: str) -> tuple[int, Role, int] | None:
    """``(tenant_id, role, user_id)`` of a live session, or ``None`` when the token is unknown,
    revoked, expired (absolute or idle), or its user or tenant is inactive. Needs a system
    session: the token is all that is known yet."""
    if not raw:
        return None
    row = session.execute(
        select(LoginSession, User, Tenant)
        .join(User, User.id == LoginSession.user_id)
        .join(Tenant, Tenant.id == LoginSession.tenant_id)
        .where(LoginSession.token_hash == token_digest(raw))
    ).first()
    if row is None:
        return None
    login, user, tenant = row
    now = utcnow()
    idle = timedelta(seconds=get_settings().session_idle_s)
    if login.revoked_at is not None or now >= login.expires_at or now - login.last_seen_at > idle:
        return None
    if not user.active or not tenant.active:
        return None
    if now - login.last_seen_at >= TOUCH_EVERY:
        login.last_seen_at = now
        session.flush()
    return tenant.id, Role(user.role), user.id


def end_session(session: Session, raw: str) -> None:
    """Log out: the token is refused from now on, whoever holds a copy."""
    if raw:
        _revoke(session, LoginSession.token_hash == token_digest(raw))


def end_user_sessions(session: Session, user_id: int) -> None:
    """Every login of ``user_id`` ends (a deactivated user stays out when reactivated)."""
    _revoke(session, LoginSession.user_id == user_id)


def end_tenant_sessions(session: Session, tenant_id: int) -> None:
    """Every login of the tenant's users ends (the operator deactivated the tenant)."""
    _revoke(session, LoginSession.tenant_id == tenant_id)


def _revoke(session: Session, which: ColumnElement[bool]) -> None:
    session.execute(
        update(LoginSession)
        .where(which, LoginSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )

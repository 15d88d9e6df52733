"""Logging in with a password, throttled per account and per client address.

Each refused password is stored (``login_failures``, keyed by a digest of the account's email
and of the address), so every process of a deployment and both databases see the same counts
without Redis. After ``login_failures_per_account`` failures within ``login_failure_window_s``
an account is refused, right password or not, until the oldest of them ages out; likewise an
address after ``login_failures_per_address``. The refusal is the same whether the account
exists or not, and comes before the password is checked (no hashing work for a flood).
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from socialcrm.core.db import Database, utcnow
from socialcrm.core.errors import RateLimitExceeded, Unauthenticated
from socialcrm.core.principal import Principal
from socialcrm.core.settings import get_settings
from socialcrm.tenancy import sessions
from socialcrm.tenancy.models import LoginFailure
from socialcrm.tenancy.service import authenticate_password


@dataclass(frozen=True, slots=True)
class Login:
    principal: Principal
    token: str  # for the session cookie, shown nowhere else


def account_key(email: str) -> str:
    return _digest("account", email.strip().lower())


def address_key(address: str) -> str:
    """An IPv4 address counts alone; an IPv6 one by its /64, which one subscriber holds whole."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return _digest("address", address)
    if ip.version == 6:
        return _digest("address", str(ipaddress.ip_network(f"{ip}/64", strict=False)))
    return _digest("address", str(ip))


def _digest(kind: str, value: str) -> str:
    return hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()


def retry_after(session: Session, *, email: str, address: str) -> int | None:
    """Seconds until a login of ``email`` from ``address`` may be tried again, or ``None``."""
    settings = get_settings()
    window = timedelta(seconds=settings.login_failure_window_s)
    now = utcnow()
    waits = [
        _wait(session, key, limit, now, window)
        for key, limit in (
            (account_key(email), settings.login_failures_per_account),
            (address_key(address), settings.login_failures_per_address),
        )
    ]
    longest = max((w for w in waits if w is not None), default=None)
    return None if longest is None else max(1, math.ceil(longest))


def _wait(session: Session, key: str, limit: int, now: datetime, window: timedelta) -> float | None:
    recent = session.scalars(
        select(LoginFailure.failed_at)
        .where(LoginFailure.key_hash == key, LoginFailure.failed_at > now - window)
        .order_by(LoginFailure.failed_at.desc())
        .limit(limit)
    ).all()
    if len(recent) < limit:
        return None
    # Allowed again once the limit-th most recent failure leaves the window.
    return (recent[-1] + window - now).total_seconds()


def record_failure(session: Session, *, email: str, address: str) -> None:
    now = utcnow()
    window = timedelta(seconds=get_settings().login_failure_window_s)
    session.execute(delete(LoginFailure).where(LoginFailure.failed_at <= now - window))
    session.add_all(
        [
            LoginFailure(key_hash=account_key(email), failed_at=now),
            LoginFailure(key_hash=address_key(address), failed_at=now),
        ]
    )
    session.flush()


def forget_failures(session: Session, *, email: str) -> None:
    session.execute(delete(LoginFailure).where(LoginFailure.key_hash == account_key(email)))


def log_in(db: Database, *, email: str, password: str, address: str) -> Login:
    """A new server-side session for the right password. Raises ``RateLimitExceeded`` (with
    ``retry_after``) when throttled, ``Unauthenticated`` for a wrong email or password (the
    failure is stored), ``InactiveAccount`` for a deactivated user or tenant."""
    with db.session(system=True) as session:
        wait = retry_after(session, email=email, address=address)
        if wait is None:
            try:
                principal = authenticate_password(session, email, password)
            except Unauthenticated as exc:
                record_failure(session, email=email, address=address)
                refused = exc
            else:
                assert principal.user_id is not None  # a password login is a user's
                # The account's own count starts again; the address's does not (someone
                # trying many accounts must not reset it with one of their own).
                forget_failures(session, email=email)
                token = sessions.start_session(
                    session, tenant_id=principal.tenant_id, user_id=principal.user_id
                )
                return Login(principal=principal, token=token)
    if wait is not None:
        minutes = math.ceil(wait / 60)
        raise RateLimitExceeded(
            f"too many failed logins: try again in {minutes} minute{'s' if minutes > 1 else ''}",
            details={"retry_after": wait},
        )
    raise refused


def log_out(db: Database, token: str) -> None:
    """End the session of ``token`` for every copy of the cookie (nothing to end: no-op)."""
    if token:
        with db.session(system=True) as session:
            sessions.end_session(session, token)


def resume(db: Database, token: str) -> Principal | None:
    """Who the session of ``token`` logs in, in a short unit of work of its own (it may renew
    ``last_seen_at``), or ``None`` when it is unknown, ended, expired or its user inactive."""
    if not token:
        return None
    with db.session(system=True) as session:
        found = sessions.resume_session(session, token)
    if found is None:
        return None
    tenant_id, role, user_id = found
    return Principal(tenant_id=tenant_id, role=role, user_id=user_id)

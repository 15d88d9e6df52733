"""Tenants, users and API keys: creation and authentication."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from socialcrm.core.db import utcnow
from socialcrm.core.errors import (
    Conflict,
    InactiveAccount,
    NotFound,
    Unauthenticated,
    ValidationFailed,
)
from socialcrm.core.settings import get_settings
from socialcrm.tenancy.models import ApiKey, Role, Tenant, User

KEY_PREFIX = "scrm_"
_hasher = PasswordHasher()
# A fixed hash to verify against when the user does not exist, so timing does not reveal it.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a tenant, a role, and the user or key acting."""

    tenant_id: int
    role: Role
    user_id: int | None
    api_key_id: int | None = None

    @property
    def actor(self) -> str:
        if self.user_id is not None:
            return f"user:{self.user_id}"
        return f"api_key:{self.api_key_id}"


def hash_api_key(raw: str) -> str:
    """API keys carry 256 bits of entropy, so a plain SHA-256 is the right (fast) hash."""
    return hashlib.sha256(raw.encode()).hexdigest()


def get_or_create_tenant(session: Session, name: str) -> Tenant:
    name = name.strip()
    if not name:
        raise ValidationFailed("tenant name must not be empty")
    tenant = session.scalars(select(Tenant).where(Tenant.name == name)).first()
    if tenant is None:
        tenant = Tenant(name=name)
        session.add(tenant)
        session.flush()
    return tenant


def create_api_key(
    session: Session, *, tenant: Tenant, role: Role = Role.ADMIN, name: str = ""
) -> tuple[ApiKey, str]:
    """Returns the stored key and the raw secret, which is shown once and never stored."""
    raw = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        tenant_id=tenant.id,
        name=name,
        prefix=raw[: len(KEY_PREFIX) + 6],
        key_hash=hash_api_key(raw),
        role=role,
    )
    session.add(key)
    session.flush()
    return key, raw


# Keys that authenticated recently, by digest: a busy client's requests skip the lookup. A key
# revoked here is forgotten at once; one revoked (or an account deactivated) elsewhere is refused
# within ``Settings.api_key_cache_s``. Failures are never cached.
_KEY_CACHE_MAX = 10_000
_clock = time.monotonic
_principals: dict[str, tuple[float, Principal]] = {}


def cached_principal(raw: str) -> Principal | None:
    """The principal of ``raw`` if it authenticated in the last ``api_key_cache_s`` seconds."""
    return _remembered(hash_api_key(raw)) if raw.startswith(KEY_PREFIX) else None


def _remembered(digest: str) -> Principal | None:
    entry = _principals.get(digest)
    return entry[1] if entry is not None and entry[0] > _clock() else None


def forget_principals() -> None:
    _principals.clear()


def authenticate_api_key(session: Session, raw: str) -> Principal:
    if not raw.startswith(KEY_PREFIX):
        raise Unauthenticated("invalid API key")
    digest = hash_api_key(raw)
    if (remembered := _remembered(digest)) is not None:
        return remembered
    row = session.execute(
        select(ApiKey, Tenant)
        .join(Tenant, Tenant.id == ApiKey.tenant_id)
        .where(ApiKey.key_hash == digest)
    ).first()
    if row is None or not hmac.compare_digest(row[0].key_hash, digest):
        raise Unauthenticated("invalid API key")
    key, tenant = row
    if key.revoked_at is not None:
        raise Unauthenticated("this API key has been revoked")
    if not tenant.active:
        raise InactiveAccount("this account is inactive")
    principal = Principal(
        tenant_id=tenant.id, role=Role(key.role), user_id=key.user_id, api_key_id=key.id
    )
    ttl = get_settings().api_key_cache_s
    if ttl > 0:
        if len(_principals) >= _KEY_CACHE_MAX:
            _principals.clear()
        _principals[digest] = (_clock() + ttl, principal)
    return principal


def revoke_api_key(session: Session, key_id: int) -> ApiKey:
    """Revoke a key for good: this process refuses it at once, others within the key cache's
    time (``Settings.api_key_cache_s``)."""
    key = session.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"no API key {key_id}")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        session.flush()
    forget_principals()
    return key


def create_user(
    session: Session, *, tenant: Tenant, email: str, password: str, role: Role, name: str = ""
) -> User:
    email = email.strip().lower()
    if len(password) < 8:
        raise ValidationFailed("password must have at least 8 characters")
    if session.scalars(select(User).where(User.email == email)).first() is not None:
        raise Conflict(f"a user with email {email} already exists")
    user = User(
        tenant_id=tenant.id,
        email=email,
        name=name,
        role=role,
        password_hash=_hasher.hash(password),
    )
    session.add(user)
    session.flush()
    return user


def authenticate_password(session: Session, email: str, password: str) -> Principal:
    row = session.execute(
        select(User, Tenant)
        .join(Tenant, Tenant.id == User.tenant_id)
        .where(User.email == email.strip().lower())
    ).first()
    try:
        _hasher.verify(row[0].password_hash if row else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        raise Unauthenticated("wrong email or password") from None
    if row is None:
        raise Unauthenticated("wrong email or password")
    user, tenant = row
    if not user.active or not tenant.active:
        raise InactiveAccount("this account is inactive")
    return Principal(tenant_id=tenant.id, role=Role(user.role), user_id=user.id)

"""Tenants, users and API keys: creation and authentication."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from socialcrm.core import audit
from socialcrm.core.db import utcnow
from socialcrm.core.errors import (
    Conflict,
    Forbidden,
    InactiveAccount,
    NotFound,
    Unauthenticated,
    ValidationFailed,
)
from socialcrm.core.principal import Principal, Role
from socialcrm.core.settings import get_settings
from socialcrm.tenancy.models import ApiKey, Tenant, User
from socialcrm.tenancy.policy import TenantPolicy, TenantPolicyChange, apply_change
from socialcrm.tenancy.schemas import NewApiKey, NewUser, UserChange
from socialcrm.tenancy.sessions import end_tenant_sessions, end_user_sessions

KEY_PREFIX = "scrm_"
_hasher = PasswordHasher()
# A fixed hash to verify against when the user does not exist, so timing does not reveal it.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


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


def find_tenant(session: Session, name: str) -> Tenant:
    """The tenant called ``name`` exactly (a typo must not create a second tenant)."""
    tenant = session.scalars(select(Tenant).where(Tenant.name == name.strip())).first()
    if tenant is None:
        raise NotFound(f"no tenant named {name.strip()!r}")
    return tenant


def list_tenants(session: Session) -> list[tuple[Tenant, int, int]]:
    """Every tenant with its number of users and of API keys not revoked (a system session)."""
    users = select(func.count(User.id)).where(User.tenant_id == Tenant.id).scalar_subquery()
    keys = (
        select(func.count(ApiKey.id))
        .where(ApiKey.tenant_id == Tenant.id, ApiKey.revoked_at.is_(None))
        .scalar_subquery()
    )
    rows = session.execute(select(Tenant, users, keys).order_by(Tenant.name)).all()
    return [(tenant, int(n_users), int(n_keys)) for tenant, n_users, n_keys in rows]


def list_api_keys(session: Session, tenant_id: int | None = None) -> list[tuple[ApiKey, str]]:
    """API keys (never their secrets) with their tenant's name, newest first."""
    query = select(ApiKey, Tenant.name).join(Tenant, Tenant.id == ApiKey.tenant_id)
    if tenant_id is not None:
        query = query.where(ApiKey.tenant_id == tenant_id)
    rows = session.execute(query.order_by(ApiKey.id.desc())).all()
    return [(key, name) for key, name in rows]


def list_users(session: Session, tenant_id: int | None = None) -> list[tuple[User, str]]:
    """Users with their tenant's name, by email."""
    query = select(User, Tenant.name).join(Tenant, Tenant.id == User.tenant_id)
    if tenant_id is not None:
        query = query.where(User.tenant_id == tenant_id)
    rows = session.execute(query.order_by(User.email)).all()
    return [(user, name) for user, name in rows]


def tenant_policy(tenant: Tenant) -> TenantPolicy:
    policy = tenant.policy or {}
    ceiling = policy.get("ef_ceiling")
    rate = policy.get("job_rate_limit")
    return TenantPolicy(
        tenant_id=tenant.id,
        tenant=tenant.name,
        active=tenant.active,
        ef_ceiling=None if ceiling is None else float(ceiling),
        job_rate_limit=None if rate is None else str(rate),
    )


def change_tenant_policy(
    session: Session, tenant: Tenant, change: TenantPolicyChange, *, actor: str
) -> TenantPolicy:
    """Apply an operator's change, audit-logged; a deactivated tenant's keys are refused at
    once in this process and within ``api_key_cache_s`` elsewhere."""
    before = tenant_policy(tenant)
    tenant.active, tenant.policy = apply_change(tenant.active, tenant.policy or {}, change)
    after = tenant_policy(tenant)
    if after != before:
        entry = audit.record(
            session,
            actor=actor,
            action="tenant.policy_changed",
            target_type="tenant",
            target_id=tenant.id,
            details={
                "before": before.model_dump(exclude={"tenant_id", "tenant"}),
                "after": after.model_dump(exclude={"tenant_id", "tenant"}),
            },
        )
        entry.tenant_id = tenant.id  # the command line's session belongs to no tenant
        session.flush()
    if not after.active:
        forget_principals()
        end_tenant_sessions(session, tenant.id)  # reactivating it later does not revive them
    return after


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
    try:
        email = validate_email(
            email.strip(), check_deliverability=False, test_environment=True
        ).normalized.lower()
    except EmailNotValidError as exc:
        raise ValidationFailed(
            f"{email.strip()!r} is not a valid email address: {exc}", details={"email": email}
        ) from None
    if len(password) < 8:
        raise ValidationFailed(
            "password must have at least 8 characters", details={"password": "too short"}
        )
    # A login email is unique across tenants: look at the table itself, which a tenant's
    # session does not narrow to its own users (an admin adding someone works in one).
    users = User.__table__
    if session.execute(select(users.c.id).where(users.c.email == email)).first() is not None:
        raise Conflict(f"a user with email {email} already exists", details={"email": email})
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


# --- a tenant's admin at work (the Admin area; audit-logged) ----------------------------------


def own_tenant(session: Session, principal: Principal, doing: str = "do this") -> Tenant:
    """The admin's own tenant; anyone else is refused ("only an admin can <doing>")."""
    if principal.role != Role.ADMIN:
        raise Forbidden(f"only an admin can {doing}")
    tenant = session.get(Tenant, principal.tenant_id)
    if tenant is None:
        raise NotFound("tenant not found")
    return tenant


def _audit(
    session: Session,
    principal: Principal,
    action: str,
    kind: str,
    target: object,
    details: dict[str, object],
) -> None:
    audit.record(
        session,
        actor=principal.actor,
        action=action,
        target_type=kind,
        target_id=target,
        details=details,
    )


def add_user(session: Session, principal: Principal, change: NewUser) -> User:
    """A user of the admin's own tenant, who logs in with ``change.password``."""
    tenant = own_tenant(session, principal, "add users")
    user = create_user(
        session,
        tenant=tenant,
        email=change.email,
        password=change.password,
        role=change.role,
        name=change.name,
    )
    _audit(session, principal, "user.create", "user", user.id, {"role": user.role})
    session.flush()
    return user


def _active_admins(session: Session) -> int:
    return int(
        session.scalar(
            select(func.count(User.id)).where(User.role == Role.ADMIN, User.active.is_(True))
        )
        or 0
    )


def change_user(session: Session, principal: Principal, user_id: int, change: UserChange) -> User:
    """A user's role or active flag. A deactivated user's logins end (reactivated, they log in
    again); a new role applies from their next request. An admin cannot lock themselves out,
    and the tenant keeps at least one active admin."""
    own_tenant(session, principal, "change users")
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    role = change.role if change.role is not None else Role(user.role)
    active = change.active if change.active is not None else user.active
    if user.id == principal.user_id and (role != Role.ADMIN or not active):
        raise Conflict(
            "you cannot take away your own admin access: ask another admin",
            details={"role": role, "active": active},
        )
    was_admin = user.role == Role.ADMIN and user.active
    if was_admin and (role != Role.ADMIN or not active) and _active_admins(session) <= 1:
        raise Conflict("the tenant must keep at least one active admin", details={"role": role})
    before = {"role": str(user.role), "active": user.active}
    user.role, user.active = role, active
    if not active:
        end_user_sessions(session, user.id)
    after = {"role": str(role), "active": active}
    if after != before:
        _audit(
            session, principal, "user.change", "user", user.id, {"before": before, "after": after}
        )
    session.flush()
    return user


def issue_api_key(session: Session, principal: Principal, change: NewApiKey) -> tuple[ApiKey, str]:
    """A new key of the admin's tenant; the raw secret is returned once and never stored."""
    tenant = own_tenant(session, principal, "create API keys")
    key, raw = create_api_key(session, tenant=tenant, role=change.role, name=change.name)
    _audit(
        session,
        principal,
        "api_key.create",
        "api_key",
        key.id,
        {"role": key.role, "name": key.name},
    )
    session.flush()
    return key, raw


def revoke_tenant_key(session: Session, principal: Principal, key_id: int) -> ApiKey:
    """Revoke one of the admin's tenant's keys (another tenant's is not found)."""
    own_tenant(session, principal, "revoke API keys")
    key = revoke_api_key(session, key_id)
    _audit(session, principal, "api_key.revoke", "api_key", key.id, {"name": key.name})
    session.flush()
    return key

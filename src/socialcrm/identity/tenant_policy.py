"""The tenant's identity settings (threshold, fresh tiers, cache TTL, rate limit, bot rules):
read on the resolve path from a 30-second in-process copy, changed by an admin."""

from __future__ import annotations

import threading
import time

import structlog
from sqlalchemy.orm import Session

from socialcrm.core import audit
from socialcrm.core.errors import (
    Forbidden,
    NotFound,
)
from socialcrm.core.principal import Principal, Role
from socialcrm.identity import cachebus, graph
from socialcrm.identity.botfilter import BotFilter
from socialcrm.identity.policy import IdentityPolicy
from socialcrm.tenancy.models import Tenant

log = structlog.get_logger(__name__)

# --- tenant settings -------------------------------------------------------------------------

_POLICY_TTL_S = 30.0
_policies: dict[int, tuple[float, IdentityPolicy, BotFilter]] = {}
_policies_lock = threading.Lock()


def tenant_policy(session: Session, tenant_id: int) -> tuple[IdentityPolicy, BotFilter]:
    cached = cached_policy(tenant_id)
    if cached is not None:
        return cached
    tenant = session.get(Tenant, tenant_id)
    raw = (tenant.policy if tenant is not None else {}).get("identity") or {}
    policy = IdentityPolicy.model_validate(raw)
    bots = BotFilter.from_policy(policy)
    with _policies_lock:
        _policies[tenant_id] = (time.monotonic() + _POLICY_TTL_S, policy, bots)
    return policy, bots


def cached_policy(tenant_id: int) -> tuple[IdentityPolicy, BotFilter] | None:
    """The tenant's policy if read in the last ``_POLICY_TTL_S`` seconds."""
    with _policies_lock:
        cached = _policies.get(tenant_id)
    return (cached[1], cached[2]) if cached is not None and cached[0] > time.monotonic() else None


def update_policy(session: Session, tenant_id: int, policy: IdentityPolicy) -> IdentityPolicy:
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound("tenant not found")
    tenant.policy = {**tenant.policy, "identity": policy.model_dump(mode="json")}
    session.flush()
    forget_policies()
    graph.invalidate_all(session, tenant_id)  # answers given under the old threshold or tiers
    return policy


def change_settings(
    session: Session, principal: Principal, policy: IdentityPolicy
) -> IdentityPolicy:
    """An admin's change of the tenant's identity settings, audit-logged."""
    if principal.role != Role.ADMIN:
        raise Forbidden("only an admin changes the identity settings")
    policy = update_policy(session, principal.tenant_id, policy)
    audit.record(
        session,
        actor=principal.actor,
        action="identity.settings.update",
        target_type="tenant",
        target_id=principal.tenant_id,
        details={"confidence_threshold": policy.confidence_threshold},
    )
    return policy


def forget_policies() -> None:
    with _policies_lock:
        _policies.clear()


cachebus.on_clear.append(forget_policies)  # a policy changed in another process

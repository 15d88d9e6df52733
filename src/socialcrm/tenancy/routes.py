"""``/api/admin/tenant-policy``: the operator's controls of the caller's tenant (admins)."""

from __future__ import annotations

from fastapi import APIRouter

from socialcrm.core.principal import Role
from socialcrm.core.web.context import ApiCtx, Ctx
from socialcrm.tenancy.models import Tenant
from socialcrm.tenancy.policy import TenantPolicy, TenantPolicyChange
from socialcrm.tenancy.service import change_tenant_policy, tenant_policy

router = APIRouter(prefix="/api/admin", tags=["admin"])


def _tenant(ctx: Ctx) -> Tenant:
    ctx.require(Role.ADMIN)
    tenant = ctx.session.get(Tenant, ctx.principal.tenant_id)
    assert tenant is not None  # the key authenticated against it in this unit of work
    return tenant


@router.get("/tenant-policy", response_model=TenantPolicy)
def get_tenant_policy(ctx: ApiCtx) -> TenantPolicy:
    """Whether the tenant is active, its monthly EF ceiling and its job rate limit."""
    return tenant_policy(_tenant(ctx))


@router.put("/tenant-policy", response_model=TenantPolicy)
def put_tenant_policy(ctx: ApiCtx, change: TenantPolicyChange) -> TenantPolicy:
    """Change the fields given (``null`` removes the tenant's own ceiling or rate limit);
    ``"active": false`` locks the tenant out until `socialcrm tenant activate`."""
    return change_tenant_policy(ctx.session, _tenant(ctx), change, actor=ctx.principal.actor)

"""``/api/support/settings``: the support terms per customer tier (read: anyone; change: admin)."""

from __future__ import annotations

from fastapi import APIRouter

from socialcrm.core.web.context import ApiCtx
from socialcrm.crm.support import SupportPolicy, set_support_policy, support_policy
from socialcrm.tenancy.models import Tenant

router = APIRouter(prefix="/api/support", tags=["crm"])


@router.get("/settings", response_model=SupportPolicy)
def get_support_settings(ctx: ApiCtx) -> SupportPolicy:
    """Queue, priority and first-response minutes of each tier, and the escalation queue."""
    tenant = ctx.session.get(Tenant, ctx.principal.tenant_id)
    return support_policy(tenant.policy if tenant is not None else None)


@router.put("/settings", response_model=SupportPolicy)
def put_support_settings(ctx: ApiCtx, body: SupportPolicy) -> SupportPolicy:
    """Change the tiers given (others keep their terms) and the escalation queue (admin);
    Tickets opened from now on follow it."""
    return set_support_policy(ctx.session, ctx.principal, body)

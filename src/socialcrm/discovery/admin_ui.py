"""Admin area: the discovery quota (monthly EF ceiling, usage this month, job rate limit).

The controls are the operator's tenant policy (``tenancy``, also ``PUT /api/admin/tenant-policy``
and ``socialcrm tenant set``); the usage is what ``GET /api/jobs/usage`` answers."""

from __future__ import annotations

from typing import Any

from socialcrm.core.web.context import Ctx
from socialcrm.core.web.forms import SettingsForm, text_or_none
from socialcrm.discovery import jobs
from socialcrm.discovery.settings import get_discovery_settings
from socialcrm.tenancy.policy import TenantPolicyChange
from socialcrm.tenancy.service import change_tenant_policy, own_tenant, tenant_policy


def _current(ctx: Ctx) -> dict[str, Any]:
    policy = tenant_policy(own_tenant(ctx.session, ctx.principal))
    ceiling = "" if policy.ef_ceiling is None else f"{policy.ef_ceiling:g}"
    return {"ef_ceiling": ceiling, "job_rate_limit": policy.job_rate_limit or ""}


def _save(ctx: Ctx, form: dict[str, Any]) -> object:
    change = TenantPolicyChange.model_validate(
        {
            "ef_ceiling": text_or_none(form.get("ef_ceiling")),
            "job_rate_limit": text_or_none(form.get("job_rate_limit")),
        }
    )
    tenant = own_tenant(ctx.session, ctx.principal)
    return change_tenant_policy(ctx.session, tenant, change, actor=ctx.principal.actor)


def _usage(ctx: Ctx) -> dict[str, Any]:
    return {
        "usage": jobs.month_usage(ctx.session, own_tenant(ctx.session, ctx.principal)),
        "default_rate": get_discovery_settings().job_rate_limit,
    }


FORM = SettingsForm(
    "/admin/discovery",
    "admin/discovery.html",
    _current,
    _save,
    saved="Discovery quota saved: new jobs are held to it at once.",
    more=_usage,
)
router = FORM.router()

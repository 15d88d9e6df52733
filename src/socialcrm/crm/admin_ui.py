"""Admin area: the support terms per customer tier (queues, priorities, first response)."""

from __future__ import annotations

from typing import Any

from socialcrm.core.web.context import Ctx
from socialcrm.core.web.forms import SettingsForm, text_or_none
from socialcrm.crm.models import Priority
from socialcrm.crm.support import TIERS, SupportPolicy, set_support_policy, support_policy
from socialcrm.tenancy.models import Tenant

TERMS = ("queue", "priority", "first_response_minutes")


def _current(ctx: Ctx) -> dict[str, Any]:
    """Form fields named as the model's error paths: ``tiers.gold.queue`` …"""
    tenant = ctx.session.get(Tenant, ctx.principal.tenant_id)
    policy = support_policy(tenant.policy if tenant is not None else None)
    values: dict[str, Any] = {"escalation_queue": policy.escalation_queue or ""}
    for tier, terms in policy.tiers.items():
        values.update({f"tiers.{tier}.{k}": v for k, v in terms.model_dump(mode="json").items()})
    return values


def _save(ctx: Ctx, form: dict[str, Any]) -> object:
    change = SupportPolicy.model_validate(
        {
            "tiers": {t: {k: form.get(f"tiers.{t}.{k}") for k in TERMS} for t in TIERS},
            "escalation_queue": text_or_none(form.get("escalation_queue")),
        }
    )
    return set_support_policy(ctx.session, ctx.principal, change)


FORM = SettingsForm(
    "/admin/support",
    "admin/support.html",
    _current,
    _save,
    saved="Support terms saved: tickets opened from now on follow them.",
    more=lambda ctx: {"tiers": TIERS, "priorities": [(p.value, p.value) for p in Priority]},
)
router = FORM.router()

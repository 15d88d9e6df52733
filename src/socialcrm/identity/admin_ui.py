"""Admin area: the identity-resolution settings (confidence, fresh tiers, rate limit, bots)."""

from __future__ import annotations

from typing import Any

from socialcrm.core.web.context import Ctx
from socialcrm.core.web.forms import SettingsForm, lines
from socialcrm.crm.models import Tier
from socialcrm.identity import tenant_policy
from socialcrm.identity.policy import IdentityPolicy

NUMBERS = (
    "confidence_threshold",
    "cache_ttl_s",
    "rate_limit_per_minute",
    "min_account_age_days",
    "recently_updated_hours",
)
ONE_PER_LINE = ("bot_user_ids", "bot_handles", "spam_keywords")


def _current(ctx: Ctx) -> dict[str, Any]:
    policy = tenant_policy.tenant_policy(ctx.session, ctx.principal.tenant_id)[0]
    values: dict[str, Any] = policy.model_dump(mode="json", include=set(NUMBERS))
    values["fresh_tiers"] = list(policy.fresh_tiers)
    values.update({name: "\n".join(getattr(policy, name)) for name in ONE_PER_LINE})
    return values


def _save(ctx: Ctx, form: dict[str, Any]) -> object:
    fields: dict[str, Any] = {name: form.get(name) for name in NUMBERS}
    fields["fresh_tiers"] = form.get("fresh_tiers", [])
    fields.update({name: lines(form.get(name)) for name in ONE_PER_LINE})
    policy = IdentityPolicy.model_validate(fields)
    return tenant_policy.change_settings(ctx.session, ctx.principal, policy)


FORM = SettingsForm(
    "/admin/identity",
    "admin/identity.html",
    _current,
    _save,
    saved="Identity settings saved: resolve answers follow them at once.",
    lists=("fresh_tiers",),
    more=lambda ctx: {"tiers": [(t.value, t.value) for t in Tier]},
)
router = FORM.router()

"""Admin area: the enrichment settings (thresholds, posts without consent)."""

from __future__ import annotations

from typing import Any

from socialcrm.core.web.context import Ctx
from socialcrm.core.web.forms import SettingsForm, checked
from socialcrm.enrichment import service
from socialcrm.enrichment.schemas import SettingsIn


def _current(ctx: Ctx) -> dict[str, Any]:
    return service.tenant_policy(ctx.session, ctx.principal.tenant_id).as_dict()


def _save(ctx: Ctx, form: dict[str, Any]) -> object:
    body = SettingsIn.model_validate(
        {
            "auto_link_threshold": form.get("auto_link_threshold"),
            "suggest_threshold": form.get("suggest_threshold"),
            "restrict_without_consent": checked(form, "restrict_without_consent"),
        }
    )
    return service.set_policy(ctx.session, ctx.principal, body.model_dump(exclude_none=True))


FORM = SettingsForm(
    "/admin/enrichment",
    "admin/enrichment.html",
    _current,
    _save,
    saved="Enrichment settings saved: they apply from the next search.",
)
router = FORM.router()

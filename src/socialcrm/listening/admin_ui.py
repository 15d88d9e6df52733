"""Admin area: the listening settings (the languages mentions are expected in)."""

from __future__ import annotations

from typing import Any

from socialcrm.core.web.context import Ctx
from socialcrm.core.web.forms import SettingsForm
from socialcrm.listening import service
from socialcrm.listening.policy import ListeningPolicy


def _current(ctx: Ctx) -> dict[str, Any]:
    policy = service.tenant_policy(ctx.session, ctx.principal.tenant_id)
    return {"languages": ", ".join(policy.languages)}


def _save(ctx: Ctx, form: dict[str, Any]) -> object:
    codes = [c.strip() for c in str(form.get("languages", "")).replace(";", ",").split(",")]
    policy = ListeningPolicy.model_validate({"languages": [c for c in codes if c]})
    return service.update_policy(ctx.session, ctx.principal, policy)


FORM = SettingsForm(
    "/admin/listening",
    "admin/listening.html",
    _current,
    _save,
    saved="Listening settings saved: they apply to mentions from now on.",
)
router = FORM.router()

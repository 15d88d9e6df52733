"""Admin area: the publishing settings (approval of posts)."""

from __future__ import annotations

from typing import Any

from socialcrm.core.web.context import Ctx
from socialcrm.core.web.forms import SettingsForm, checked
from socialcrm.publishing import compose, service
from socialcrm.publishing.schemas import ApprovalPolicy


def _current(ctx: Ctx) -> dict[str, Any]:
    return {"approval_required": compose.approval_policy(ctx.session, ctx.principal.tenant_id)}


def _save(ctx: Ctx, form: dict[str, Any]) -> object:
    body = ApprovalPolicy(approval_required=checked(form, "approval_required"))
    return service.set_approval_policy(ctx.session, ctx.principal, body.approval_required)


FORM = SettingsForm(
    "/admin/publishing",
    "admin/publishing.html",
    _current,
    _save,
    saved="Publishing settings saved.",
)
router = FORM.router()

"""Admin area: the tenant's own OAuth app credentials per network (``PUT /api/provider-apps``)."""

from __future__ import annotations

from typing import Any

from socialcrm.connections import service
from socialcrm.connections.schemas import ProviderAppIn
from socialcrm.core.web.context import Ctx
from socialcrm.core.web.forms import SettingsForm
from socialcrm.providers.base import Capability
from socialcrm.providers.registry import PROVIDERS

OAUTH = [
    (name, info.display_name)
    for name, info in PROVIDERS.items()
    if Capability.OAUTH in info.capabilities
]


def _blank(ctx: Ctx) -> dict[str, Any]:
    return {"provider": OAUTH[0][0] if OAUTH else ""}


def _save(ctx: Ctx, form: dict[str, Any]) -> object:
    body = ProviderAppIn.model_validate(
        {k: form.get(k, "") for k in ("client_id", "client_secret", "instance_url")}
    )
    return service.set_provider_app(
        ctx.session,
        ctx.principal,
        provider=str(form.get("provider", "")),
        client_id=body.client_id,
        client_secret=body.client_secret,
        instance_url=body.instance_url,
    )


def _apps(ctx: Ctx) -> dict[str, Any]:
    return {
        "apps": service.list_provider_apps(ctx.session),
        "providers": OAUTH,
        "self_registering": [n for n, info in PROVIDERS.items() if info.dynamic_registration],
    }


FORM = SettingsForm(
    "/admin/provider-apps",
    "admin/provider_apps.html",
    _blank,
    _save,
    saved="App credentials saved: new connections use them.",
    more=_apps,
    secrets=("client_secret",),
)
router = FORM.router()

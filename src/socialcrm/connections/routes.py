"""HTTP API of connections: thin; the OAuth callback itself is a UI route (connections/ui.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from socialcrm.connections import connecting, schemas, service
from socialcrm.connections.models import ProviderApp
from socialcrm.core.db import MAX_ID
from socialcrm.core.errors import ValidationFailed
from socialcrm.core.web.context import ApiCtx
from socialcrm.providers.base import Capability
from socialcrm.providers.registry import PROVIDERS

router = APIRouter(prefix="/api", tags=["connections"])

ConnectionId = Annotated[int, Path(ge=1, le=MAX_ID)]
ProviderName = Annotated[str, Path(max_length=20)]


@router.get("/providers", response_model=list[schemas.ProviderOut])
def list_providers(ctx: ApiCtx) -> Any:
    return [provider_out(name) for name in PROVIDERS]


def provider_out(name: str) -> schemas.ProviderOut:
    info = PROVIDERS[name]
    oauth = Capability.OAUTH in info.capabilities
    return schemas.ProviderOut(
        name=name,
        display_name=info.display_name,
        capabilities=sorted(info.capabilities),
        connect_with="oauth" if oauth else "app_password",
        optional_permissions=list(info.optional_permissions),
        redirect_uri=service.redirect_uri(name) if oauth else "",
        requires={str(cap): text for cap, text in info.requires.items()},
        picks_accounts=info.picks_accounts,
    )


@router.post(
    "/connections",
    status_code=201,
    response_model=schemas.AuthorizationOut | schemas.ConnectionOut,
    responses={201: {"description": "an authorization URL (OAuth) or the connected account"}},
)
def create_connection(ctx: ApiCtx, body: schemas.ConnectionIn) -> Any:
    if body.identifier is not None or body.app_password is not None:
        if not body.identifier or not body.app_password:
            raise ValidationFailed("identifier and app_password go together")
        account = connecting.connect_with_app_password(
            ctx.session,
            ctx.principal,
            provider=body.provider,
            ownership=body.scope,
            identifier=body.identifier,
            app_password=body.app_password,
        )
        return schemas.ConnectionOut.model_validate(account)
    start = connecting.start_oauth(
        ctx.session,
        ctx.principal,
        provider=body.provider,
        ownership=body.scope,
        instance_url=body.instance_url,
        permissions=body.permissions,
    )
    return schemas.AuthorizationOut(
        authorization_url=start.authorization_url, expires_at=start.expires_at
    )


ChoiceKey = Annotated[str, Path(min_length=20, max_length=100)]


@router.get("/connections/choices/{key}", response_model=schemas.AccountChoiceOut)
def get_account_choice(ctx: ApiCtx, key: ChoiceKey) -> Any:
    """After Facebook Login: the Pages the person may connect (tokens stay server-side)."""
    return connecting.get_account_choice(ctx.session, ctx.principal, key)


@router.post("/connections/choices/{key}", response_model=schemas.ConnectionList)
def choose_accounts(ctx: ApiCtx, key: ChoiceKey, body: schemas.AccountChoiceIn) -> Any:
    """Connect the picked Pages: one connected account each, holding that Page's token."""
    return {"items": connecting.choose_accounts(ctx.session, ctx.principal, key, body.ids)}


@router.get("/connections", response_model=schemas.ConnectionList)
def list_connections(ctx: ApiCtx) -> Any:
    return {"items": service.list_accounts(ctx.session, ctx.principal)}


@router.get("/connections/{connection_id}", response_model=schemas.ConnectionOut)
def get_connection(ctx: ApiCtx, connection_id: ConnectionId) -> Any:
    return service.get_account(ctx.session, ctx.principal, connection_id)


@router.delete("/connections/{connection_id}", response_model=schemas.ConnectionOut)
def delete_connection(ctx: ApiCtx, connection_id: ConnectionId) -> Any:
    """Disconnect: the account stops being used at once; the grant is revoked at the network."""
    return service.disconnect(ctx.session, ctx.principal, connection_id)


@router.put("/provider-apps/{provider}", response_model=schemas.ProviderAppOut)
def put_provider_app(ctx: ApiCtx, provider: ProviderName, body: schemas.ProviderAppIn) -> Any:
    app = service.set_provider_app(
        ctx.session,
        ctx.principal,
        provider=provider,
        client_id=body.client_id,
        client_secret=body.client_secret,
        instance_url=body.instance_url,
    )
    return _app_out(app)


@router.get("/provider-apps", response_model=list[schemas.ProviderAppOut])
def list_provider_apps(ctx: ApiCtx) -> Any:
    return [_app_out(app) for app in service.list_provider_apps(ctx.session)]


def _app_out(app: ProviderApp) -> schemas.ProviderAppOut:
    return schemas.ProviderAppOut(
        provider=app.provider,
        instance_url=app.instance_url,
        client_id=app.client_id,
        has_secret=bool(app.client_secret),
    )

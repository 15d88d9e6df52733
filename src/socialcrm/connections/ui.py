"""Connected accounts' pages: connect (OAuth or an app password), disconnect, the OAuth
callback the networks send the browser back to, and the choice of Facebook Pages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from socialcrm.connections import connecting
from socialcrm.connections import service as connections
from socialcrm.connections.models import Ownership
from socialcrm.core.db import get_database
from socialcrm.core.errors import AppError
from socialcrm.core.principal import Role
from socialcrm.core.web.context import Ctx, UiCtx
from socialcrm.core.web.csrf import CsrfField, check_csrf
from socialcrm.core.web.render import render
from socialcrm.providers.base import Capability
from socialcrm.providers.capability_table import capability_offers
from socialcrm.providers.registry import PROVIDERS

router = APIRouter()


@router.get("/connections", response_class=HTMLResponse)
def connections_page(
    request: Request,
    ctx: UiCtx,
    connected: Annotated[int | None, Query()] = None,
) -> HTMLResponse:
    return _connections_view(request, ctx, connected=connected)


def _connections_view(
    request: Request, ctx: Ctx, *, connected: int | None = None, error: str = ""
) -> HTMLResponse:
    """The page; ``error`` is a refusal of this request (never a text from the address)."""
    accounts = connections.list_accounts(ctx.session, ctx.principal)
    providers = [
        {
            "name": name,
            "display_name": info.display_name,
            "oauth": Capability.OAUTH in info.capabilities,
            "offers": capability_offers(info),
        }
        for name, info in PROVIDERS.items()
    ]
    return render(
        request,
        ctx,
        "connections.html",
        accounts=accounts,
        manageable={a.id for a in accounts if connections.may_manage(ctx.principal, a)},
        providers=providers,
        connected=connected,
        error=error,
        is_admin=ctx.principal.role == Role.ADMIN,
    )


@router.post("/connections", response_model=None)
def connect(
    request: Request,
    ctx: UiCtx,
    provider: Annotated[str, Form(max_length=20)],
    csrf: CsrfField,
    scope: Annotated[Ownership, Form()] = Ownership.PERSONAL,
    identifier: Annotated[str, Form(max_length=320)] = "",
    app_password: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    check_csrf(request, csrf)
    try:
        if identifier or app_password:
            account = connecting.connect_with_app_password(
                ctx.session,
                ctx.principal,
                provider=provider,
                ownership=scope,
                identifier=identifier,
                app_password=app_password,
            )
            return RedirectResponse(f"/connections?connected={account.id}", status_code=303)
        start = connecting.start_oauth(
            ctx.session, ctx.principal, provider=provider, ownership=scope
        )
    except AppError as exc:
        ctx.session.rollback()
        return _connections_error(request, ctx, exc)
    return RedirectResponse(start.authorization_url, status_code=303)


def _connections_error(request: Request, ctx: Ctx, exc: AppError) -> HTMLResponse:
    response = _connections_view(request, ctx, error=exc.message)
    response.status_code = exc.status_code
    return response


@router.post("/connections/{account_id}/disconnect", response_model=None)
def disconnect(request: Request, ctx: UiCtx, account_id: int, csrf: CsrfField) -> Response:
    check_csrf(request, csrf)
    connections.disconnect(ctx.session, ctx.principal, account_id)
    return RedirectResponse("/connections", status_code=303)


@router.get("/oauth/callback/{provider}", response_model=None)
def oauth_callback(request: Request, provider: str) -> Response:
    """Where the network sends the browser back. Errors: a clear 400 page, nothing stored."""
    params = {k: v for k, v in request.query_params.items() if k in {"code", "state", "error"}}
    try:
        outcome = connecting.complete_oauth(get_database(), provider=provider, params=params)
    except AppError as exc:
        if "text/html" not in request.headers.get("accept", ""):
            raise
        return render(
            request,
            None,
            "error.html",
            status=exc.status_code,
            title="Could not connect the account",
            message=exc.message,
        )
    if isinstance(outcome, connecting.AccountChoiceStart):
        return RedirectResponse(f"/connections/choose/{outcome.key}", status_code=303)
    return RedirectResponse(f"/connections?connected={outcome.id}", status_code=303)


@router.get("/connections/choose/{key}", response_class=HTMLResponse)
def choose_page(request: Request, ctx: UiCtx, key: str) -> HTMLResponse:
    """After Facebook Login: tick the Pages to connect (each becomes its own account)."""
    choice = connecting.get_account_choice(ctx.session, ctx.principal, key)
    return render(request, ctx, "connections_choose.html", choice=choice)


@router.post("/connections/choose/{key}", response_model=None)
def choose(
    request: Request,
    ctx: UiCtx,
    key: str,
    csrf: CsrfField,
    ids: Annotated[list[str], Form()] = [],  # noqa: B006 - FastAPI's form default
) -> Response:
    check_csrf(request, csrf)
    try:
        accounts = connecting.choose_accounts(ctx.session, ctx.principal, key, ids)
    except AppError as exc:
        ctx.session.rollback()
        choice = connecting.get_account_choice(ctx.session, ctx.principal, key)
        return render(
            request,
            ctx,
            "connections_choose.html",
            status=exc.status_code,
            choice=choice,
            error=exc.message,
        )
    return RedirectResponse(f"/connections?connected={accounts[0].id}", status_code=303)

"""Server-rendered UI: login, connected accounts, and the OAuth callback (the CRM records' pages
are in ``crm.ui``)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from socialcrm.connections import connecting
from socialcrm.connections import service as connections
from socialcrm.connections.models import Ownership
from socialcrm.core import notify
from socialcrm.core.db import get_database
from socialcrm.core.errors import AppError, Forbidden, RateLimitExceeded
from socialcrm.providers.base import Capability
from socialcrm.providers.capability_table import capability_offers
from socialcrm.providers.registry import PROVIDERS
from socialcrm.tenancy import login as logins
from socialcrm.tenancy.models import Role, Tenant, User
from socialcrm.web.deps import (
    LOGIN_TOKEN,
    Ctx,
    api_context,
    bearer_token,
    login_principal,
    login_token,
)

WEB_DIR = Path(__file__).parent
templates = Jinja2Templates(directory=WEB_DIR / "templates")


def web_href(url: object) -> str:
    """An outside address fit for ``href``: http(s) only. Profile links, post URLs and
    websites come from users and from networks; a ``javascript:`` one must never be a link."""
    text = str(url or "").strip()
    return text if text.lower().startswith(("http://", "https://")) else ""


def ago(moment: object) -> str:
    """How long ago, as a person says it ("5 min ago", "3 h ago", "2 days ago")."""
    if not isinstance(moment, datetime):
        return ""
    then = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    seconds = max(0, int((datetime.now(UTC) - then).total_seconds()))
    for size, unit in ((86_400, "day"), (3_600, "h"), (60, "min")):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if unit == 'day' and count > 1 else ''} ago"
    return "just now"


templates.env.filters["web_href"] = web_href
templates.env.filters["ago"] = ago
router = APIRouter()


class LoginRequired(Exception):
    """Raised by UI dependencies; answered with a redirect to /login."""


def _csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return str(token)


def _check_csrf(request: Request, token: str) -> None:
    expected = request.session.get("csrf")
    if not expected or not secrets.compare_digest(str(expected), token):
        raise Forbidden("the form expired: reload the page and try again")


def ui_context(request: Request) -> Iterator[Ctx]:
    """The logged-in user's unit of work. A session logged out (from any copy of the cookie),
    expired, or whose user or tenant was deactivated, sends the browser to /login."""
    principal = login_principal(request)
    if principal is None:
        request.session.clear()
        raise LoginRequired
    with get_database().session(tenant_id=principal.tenant_id) as session:
        yield Ctx(session=session, principal=principal)


UiCtx = Annotated[Ctx, Depends(ui_context, scope="function")]


def api_or_ui_context(request: Request) -> Iterator[Ctx]:
    """An API key, or the UI's login session: a page's EventSource and its download links
    send the session cookie, never a key. Neither: the API's 401 envelope."""
    if bearer_token(request) or not login_token(request):
        yield from api_context(request)
    else:
        yield from ui_context(request)


ApiOrUiCtx = Annotated[Ctx, Depends(api_or_ui_context, scope="function")]


def admin_context(ctx: UiCtx) -> Ctx:
    """The Admin area's pages: an admin's, anyone else gets the 403 page."""
    if ctx.principal.role != Role.ADMIN:
        raise Forbidden("the Admin area is for admins: ask one of your admins")
    return ctx


AdminCtx = Annotated[Ctx, Depends(admin_context)]
CsrfField = Annotated[str, Form(max_length=100)]


def render(
    request: Request, ctx: Ctx | None, name: str, status: int = 200, **values: Any
) -> HTMLResponse:
    common: dict[str, Any] = {
        "csrf": _csrf_token(request),
        "user": None,
        "tenant": None,
        "unread_count": 0,
    }
    if ctx is not None:
        user = ctx.session.get(User, ctx.principal.user_id)
        tenant = ctx.session.get(Tenant, ctx.principal.tenant_id)
        common["user"], common["tenant"] = user, tenant
        # The navigation's indicator; the notices themselves wait in /notifications.
        common["unread_count"] = notify.unread_count(
            ctx.session, ctx.principal.user_id or 0, is_admin=ctx.principal.role == Role.ADMIN
        )
    return templates.TemplateResponse(request, name, {**common, **values}, status_code=status)


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/contacts", status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_page(
    request: Request, next: Annotated[str, Query(max_length=200)] = "/contacts"
) -> HTMLResponse:
    return render(request, None, "login.html", next=_safe_next(next), error="")


def _safe_next(target: str) -> str:
    """Only same-site paths: no open redirect through ?next=."""
    return target if target.startswith("/") and not target.startswith("//") else "/contacts"


@router.post("/login", response_model=None)
def login(
    request: Request,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=200)],
    csrf: CsrfField,
    next: Annotated[str, Form(max_length=200)] = "/contacts",
) -> Response:
    _check_csrf(request, csrf)
    address = request.client.host if request.client else ""
    try:
        started = logins.log_in(get_database(), email=email, password=password, address=address)
    except RateLimitExceeded as exc:
        if "text/html" not in request.headers.get("accept", ""):
            raise  # the error envelope, with Retry-After
        page = render(
            request, None, "login.html", status=429, next=_safe_next(next), error=exc.message
        )
        page.headers["Retry-After"] = str(exc.details["retry_after"])
        return page
    except AppError as exc:
        return render(
            request, None, "login.html", status=401, next=_safe_next(next), error=exc.message
        )
    logins.log_out(get_database(), login_token(request))  # a login replaces the browser's last
    request.session.clear()  # new session on login (fixation defence)
    request.session[LOGIN_TOKEN] = started.token
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/logout")
def logout(request: Request, csrf: CsrfField) -> RedirectResponse:
    """Ends the session on the server too: a copy of the cookie no longer logs anyone in."""
    _check_csrf(request, csrf)
    logins.log_out(get_database(), login_token(request))
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


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
    _check_csrf(request, csrf)
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
    _check_csrf(request, csrf)
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
    _check_csrf(request, csrf)
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

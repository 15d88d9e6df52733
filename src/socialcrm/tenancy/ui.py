"""The login pages (home, login, logout), and the Admin area's front page with its users and
API keys (admins of the tenant only)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from socialcrm.core.crypto import secret_box
from socialcrm.core.db import MAX_ID, get_database
from socialcrm.core.errors import AppError, RateLimitExceeded
from socialcrm.core.principal import Role
from socialcrm.core.web.context import LOGIN_TOKEN, AdminCtx, Ctx, login_token, safe_next
from socialcrm.core.web.csrf import CsrfField, check_csrf
from socialcrm.core.web.forms import FormState, attempt, choice, done, read_form
from socialcrm.core.web.render import render
from socialcrm.tenancy import login as logins
from socialcrm.tenancy import service
from socialcrm.tenancy.schemas import NewApiKey, NewUser, UserChange

router = APIRouter()

RecordId = Annotated[int, Path(ge=1, le=MAX_ID)]
Done = Annotated[str, Query(max_length=20)]
ROLES = [(role.value, role.value) for role in Role]
NOTICES = {
    "user-added": "User added: they can log in now.",
    "user-changed": "User updated.",
    "user-deactivated": "User deactivated: they are logged out and cannot log in.",
    "user-activated": "User activated.",
    "key-revoked": "API key revoked: requests with it are refused from now on.",
}
_NEW_KEY = "admin.new_api_key"  # the session entry that carries a new key's secret once


@router.get("/admin", response_class=HTMLResponse)
def admin_home(request: Request, ctx: AdminCtx) -> HTMLResponse:
    users = service.list_users(ctx.session, ctx.principal.tenant_id)
    keys = service.list_api_keys(ctx.session, ctx.principal.tenant_id)
    return render(
        request,
        ctx,
        "admin/index.html",
        active_users=sum(1 for user, _ in users if user.active),
        live_keys=sum(1 for key, _ in keys if key.revoked_at is None),
        tenant_policy=service.tenant_policy(service.own_tenant(ctx.session, ctx.principal)),
    )


# --- users ------------------------------------------------------------------------------------


def _users_page(
    request: Request, ctx: Ctx, state: FormState | None = None, notice: str = ""
) -> HTMLResponse:
    state = state or FormState({"role": Role.AGENT.value})
    return render(
        request,
        ctx,
        "admin/users.html",
        status=state.status,
        users=[user for user, _ in service.list_users(ctx.session, ctx.principal.tenant_id)],
        roles=ROLES,
        state=state,
        notice=notice,
        me=ctx.principal.user_id,
    )


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(request: Request, ctx: AdminCtx, done: Done = "") -> HTMLResponse:
    return _users_page(request, ctx, notice=choice(NOTICES, done))


@router.post("/admin/users", response_model=None)
async def add_user(request: Request, ctx: AdminCtx) -> Response:
    form = await read_form(request)
    failed = attempt(
        ctx,
        form,
        lambda: service.add_user(ctx.session, ctx.principal, NewUser.model_validate(form)),
    )
    if failed:
        failed.values.pop("password", None)  # never sent back to the browser
        return _users_page(request, ctx, failed)
    return done("/admin/users", "user-added")


def _change_user(request: Request, ctx: Ctx, user_id: int, change: dict[str, Any]) -> Response:
    failed = attempt(
        ctx,
        {f"{k}-{user_id}": v for k, v in change.items()},
        lambda: service.change_user(
            ctx.session, ctx.principal, user_id, UserChange.model_validate(change)
        ),
    )
    if failed:
        # The refusal belongs to this user's row, whatever field the service named.
        failed.errors = {f"user-{user_id}": " ".join(failed.errors.values())}
        return _users_page(request, ctx, failed)
    active = change.get("active")
    code = "user-changed" if active is None else "user-activated" if active else "user-deactivated"
    return done("/admin/users", code)


@router.post("/admin/users/{user_id}/role", response_model=None)
async def change_role(request: Request, ctx: AdminCtx, user_id: RecordId) -> Response:
    form = await read_form(request)
    return _change_user(request, ctx, user_id, {"role": form.get("role", "")})


@router.post("/admin/users/{user_id}/deactivate", response_model=None)
def deactivate_user(
    request: Request, ctx: AdminCtx, user_id: RecordId, csrf: CsrfField
) -> Response:
    check_csrf(request, csrf)
    return _change_user(request, ctx, user_id, {"active": False})


@router.post("/admin/users/{user_id}/activate", response_model=None)
def activate_user(request: Request, ctx: AdminCtx, user_id: RecordId, csrf: CsrfField) -> Response:
    check_csrf(request, csrf)
    return _change_user(request, ctx, user_id, {"active": True})


# --- API keys ---------------------------------------------------------------------------------


def _keys_page(
    request: Request,
    ctx: Ctx,
    state: FormState | None = None,
    notice: str = "",
    created: dict[str, Any] | None = None,
) -> HTMLResponse:
    state = state or FormState({"role": Role.ADMIN.value})
    return render(
        request,
        ctx,
        "admin/api_keys.html",
        status=state.status,
        keys=[key for key, _ in service.list_api_keys(ctx.session, ctx.principal.tenant_id)],
        roles=ROLES,
        state=state,
        notice=notice,
        created=created,
    )


@router.get("/admin/api-keys", response_class=HTMLResponse)
def api_keys_page(request: Request, ctx: AdminCtx, done: Done = "") -> HTMLResponse:
    """Right after a key is created its secret shows here, once: it is taken out of the
    session (encrypted there) as the page renders, so a reload no longer shows it."""
    created = request.session.pop(_NEW_KEY, None)
    if created is not None:
        created = {"id": created["id"], "secret": secret_box().decrypt(created["secret"])}
    return _keys_page(request, ctx, notice=choice(NOTICES, done), created=created)


@router.post("/admin/api-keys", response_model=None)
async def create_key(request: Request, ctx: AdminCtx) -> Response:
    form = await read_form(request)
    issued: list[tuple[int, str]] = []

    def issue() -> None:
        key, raw = service.issue_api_key(ctx.session, ctx.principal, NewApiKey.model_validate(form))
        issued.append((key.id, raw))

    failed = attempt(ctx, form, issue)
    if failed:
        return _keys_page(request, ctx, failed)
    key_id, raw = issued[0]
    request.session[_NEW_KEY] = {"id": key_id, "secret": secret_box().encrypt(raw)}
    return RedirectResponse("/admin/api-keys", status_code=303)


@router.post("/admin/api-keys/{key_id}/revoke", response_model=None)
def revoke_key(request: Request, ctx: AdminCtx, key_id: RecordId, csrf: CsrfField) -> Response:
    check_csrf(request, csrf)
    service.revoke_tenant_key(ctx.session, ctx.principal, key_id)
    return done("/admin/api-keys", "key-revoked")


# --- home, login and logout --------------------------------------------------------------


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/contacts", status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_page(
    request: Request, next: Annotated[str, Query(max_length=200)] = "/contacts"
) -> HTMLResponse:
    return render(request, None, "login.html", next=safe_next(next), error="")


@router.post("/login", response_model=None)
def login(
    request: Request,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=200)],
    csrf: CsrfField,
    next: Annotated[str, Form(max_length=200)] = "/contacts",
) -> Response:
    check_csrf(request, csrf)
    address = request.client.host if request.client else ""
    try:
        started = logins.log_in(get_database(), email=email, password=password, address=address)
    except RateLimitExceeded as exc:
        if "text/html" not in request.headers.get("accept", ""):
            raise  # the error envelope, with Retry-After
        page = render(
            request, None, "login.html", status=429, next=safe_next(next), error=exc.message
        )
        page.headers["Retry-After"] = str(exc.details["retry_after"])
        return page
    except AppError as exc:
        return render(
            request, None, "login.html", status=401, next=safe_next(next), error=exc.message
        )
    logins.log_out(get_database(), login_token(request))  # a login replaces the browser's last
    request.session.clear()  # new session on login (fixation defence)
    request.session[LOGIN_TOKEN] = started.token
    return RedirectResponse(safe_next(next), status_code=303)


@router.post("/logout")
def logout(request: Request, csrf: CsrfField) -> RedirectResponse:
    """Ends the session on the server too: a copy of the cookie no longer logs anyone in."""
    check_csrf(request, csrf)
    logins.log_out(get_database(), login_token(request))
    request.session.clear()
    return RedirectResponse("/login", status_code=303)

"""Request dependencies: who is calling, and a unit of work scoped to their tenant (the API's
key, the UI's login session, or either).

Who is calling is answered by an ``Authenticator`` the composition root installs on the app
(``install_authenticator``; tenancy implements it): core never imports tenancy.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Protocol, TypeVar

from fastapi import Depends, FastAPI, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from socialcrm.core.db import get_database
from socialcrm.core.errors import Forbidden, Unauthenticated
from socialcrm.core.principal import Principal, Role

# The key of the login session's token in the UI cookie (Starlette's signed session).
LOGIN_TOKEN = "login"  # noqa: S105 - a key's name, not a secret


class Authenticator(Protocol):
    """Who is calling. One object per app, installed by the composition root."""

    def api_key(self, session: Session, token: str) -> Principal:
        """The principal of an API key; raises ``Unauthenticated`` (unknown, revoked) or
        ``InactiveAccount``. ``session`` is a system session (no tenant yet)."""
        ...

    def remembered_api_key(self, token: str) -> Principal | None:
        """The principal of a key that authenticated moments ago, without the database."""
        ...

    def resume_login(self, token: str) -> Principal | None:
        """Who a login session's token logs in, or ``None`` when it is unknown, ended,
        expired, or its user or tenant inactive (its own short unit of work)."""
        ...

    def page_header(self, session: Session, principal: Principal) -> tuple[object, object]:
        """The user and the tenant a page's header shows (either may be ``None``)."""
        ...


def install_authenticator(app: FastAPI, authenticator: Authenticator) -> None:
    app.state.authenticator = authenticator


def authenticator(connection: HTTPConnection) -> Authenticator:
    """The app's authenticator (a request, or a middleware's ``Request(scope)``)."""
    found: Authenticator = connection.app.state.authenticator
    return found


@dataclass(frozen=True, slots=True)
class Ctx:
    session: Session
    principal: Principal

    def require(self, *roles: Role) -> None:
        if self.principal.role not in roles:
            raise Forbidden(f"this needs one of the roles: {', '.join(roles)}")


def bearer_token(request: Request) -> str:
    """The API key a request carries, or "" (authentication then refuses it)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _bearer(request: Request) -> str:
    token = bearer_token(request)
    if not token:
        raise Unauthenticated("send an API key as 'Authorization: Bearer <key>'")
    return token


def login_token(request: Request) -> str:
    """The login session token the UI cookie carries, or "". The one place that reads it."""
    token = request.session.get(LOGIN_TOKEN) if "session" in request.scope else None
    return token if isinstance(token, str) else ""


def login_principal(request: Request) -> Principal | None:
    """Who the UI cookie logs in, checked against the server-side session (it may have been
    logged out, expired, or its user deactivated since the cookie was set)."""
    return authenticator(request).resume_login(login_token(request))


def api_context(request: Request) -> Iterator[Ctx]:
    """Authenticate the API key, then hand out a session that only sees its tenant.

    The unit of work commits when the endpoint returns (``scope="function"``), before the
    response is sent, so a client never sees success for data that was not stored.
    """
    token = _bearer(request)
    with get_database().session(system=True) as session:
        principal = authenticator(request).api_key(session, token)
        session.info["system"] = False
        session.info["tenant_id"] = principal.tenant_id
        yield Ctx(session=session, principal=principal)


def _authenticated(auth: Authenticator, session: Session, token: str) -> Principal:
    principal = auth.api_key(session, token)
    session.info["system"] = False
    session.info["tenant_id"] = principal.tenant_id
    return principal


def _commit(session: Session) -> None:
    try:
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _discard(session: Session) -> None:
    try:
        session.rollback()
    finally:
        session.close()


async def api_unit_of_work(request: Request) -> AsyncIterator[Ctx]:
    """``api_context`` for the routes: the same authentication and unit of work, with no
    worker thread where there is no database work. A key that authenticated moments ago is
    known here, on the event loop (``remembered_api_key``); otherwise it is checked in a
    worker thread. At the end the session commits (or rolls back) in a worker thread only
    when it still holds a transaction: a route that committed its own work in its one thread
    (the CRM reads) costs no second one. Each hop to a worker thread waits for the GIL behind
    the busy ones, which is what a tail of requests is made of."""
    token = _bearer(request)
    auth = authenticator(request)
    session = get_database().factory()
    try:
        principal = auth.remembered_api_key(token)
        if principal is None:
            session.info["system"] = True
            principal = await run_in_threadpool(_authenticated, auth, session, token)
        else:
            session.info["system"] = False
            session.info["tenant_id"] = principal.tenant_id
        yield Ctx(session=session, principal=principal)
    except BaseException as exc:
        if not session.in_transaction():
            session.close()
        elif isinstance(exc, Exception):
            await run_in_threadpool(_discard, session)
        else:  # cancelled: nothing may be awaited any more
            _discard(session)
        raise
    if session.in_transaction():
        await run_in_threadpool(_commit, session)
    else:
        session.close()


ApiCtx = Annotated[Ctx, Depends(api_unit_of_work, scope="function")]

T = TypeVar("T")


async def in_one_thread(ctx: Ctx, work: Callable[[Session], T]) -> T:
    """A route's database part in ONE worker thread, its commit included: the unit of work
    then has nothing left to end and needs no second thread. An error leaves the transaction
    open for the unit of work to roll back. The route itself is async, so its answer is
    validated and serialised on the event loop (records are loaded with
    ``expire_on_commit=False``)."""

    def unit() -> T:
        result = work(ctx.session)
        ctx.session.commit()
        return result

    return await run_in_threadpool(unit)


class LoginRequired(Exception):
    """Raised by UI dependencies; answered with a redirect to /login."""


def safe_next(target: str) -> str:
    """Only same-site paths: no open redirect through ?next=."""
    return target if target.startswith("/") and not target.startswith("//") else "/contacts"


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

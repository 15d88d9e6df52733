"""Request dependencies: who is calling, and a unit of work scoped to their tenant."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from socialcrm.core.db import get_database
from socialcrm.core.errors import Forbidden, Unauthenticated
from socialcrm.tenancy import login as logins
from socialcrm.tenancy.models import Role
from socialcrm.tenancy.service import Principal, authenticate_api_key, cached_principal

# The key of the login session's token in the UI cookie (Starlette's signed session).
LOGIN_TOKEN = "login"  # noqa: S105 - a key's name, not a secret


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
    return logins.resume(get_database(), login_token(request))


def api_context(request: Request) -> Iterator[Ctx]:
    """Authenticate the API key, then hand out a session that only sees its tenant.

    The unit of work commits when the endpoint returns (``scope="function"``), before the
    response is sent, so a client never sees success for data that was not stored.
    """
    token = _bearer(request)
    with get_database().session(system=True) as session:
        principal = authenticate_api_key(session, token)
        session.info["system"] = False
        session.info["tenant_id"] = principal.tenant_id
        yield Ctx(session=session, principal=principal)


def _authenticated(session: Session, token: str) -> Principal:
    principal = authenticate_api_key(session, token)
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
    known here, on the event loop (``cached_principal``); otherwise it is checked in a
    worker thread. At the end the session commits (or rolls back) in a worker thread only
    when it still holds a transaction: a route that committed its own work in its one thread
    (the CRM reads) costs no second one. Each hop to a worker thread waits for the GIL behind
    the busy ones, which is what a tail of requests is made of."""
    token = _bearer(request)
    session = get_database().factory()
    try:
        principal = cached_principal(token)
        if principal is None:
            session.info["system"] = True
            principal = await run_in_threadpool(_authenticated, session, token)
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

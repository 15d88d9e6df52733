"""Request dependencies: who is calling, and a unit of work scoped to their tenant."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from socialcrm.core.db import get_database
from socialcrm.core.errors import Forbidden, Unauthenticated
from socialcrm.tenancy.models import Role
from socialcrm.tenancy.service import Principal, authenticate_api_key


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


ApiCtx = Annotated[Ctx, Depends(api_context, scope="function")]

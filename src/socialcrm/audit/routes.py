"""``GET /api/audit``: who did what to which record, for a tenant's admins (JSON or CSV)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from socialcrm.audit import service
from socialcrm.audit.filters import parse_cursor, parse_filter
from socialcrm.audit.schemas import AuditEntryOut, AuditPageOut
from socialcrm.core.db import get_database
from socialcrm.core.principal import Role
from socialcrm.core.web.context import ApiCtx

router = APIRouter(prefix="/api", tags=["audit"])

Text = Annotated[str | None, Query(max_length=200)]


@router.get(
    "/audit",
    response_model=AuditPageOut,
    responses={200: {"content": {"application/json": {}, "text/csv": {}}}},
)
def audit_log(
    ctx: ApiCtx,
    actor: Text = None,
    action: Text = None,
    target: Annotated[
        str | None, Query(max_length=200, description="a type (ticket) or type:id (ticket:42)")
    ] = None,
    since: Annotated[
        str | None, Query(alias="from", max_length=40, description="ISO 8601, inclusive")
    ] = None,
    until: Annotated[
        str | None,
        Query(alias="to", max_length=40, description="ISO 8601, exclusive; a date: its end"),
    ] = None,
    cursor: Annotated[str | None, Query(max_length=20)] = None,
    limit: Annotated[int, Query(ge=1, le=service.MAX_LIMIT)] = 50,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> AuditPageOut | StreamingResponse:
    """The tenant's audit log, newest first (admins only). ``format=csv`` exports every
    matching entry from the cursor on, with cells made safe for spreadsheets."""
    ctx.require(Role.ADMIN)
    where = parse_filter(actor=actor, action=action, target=target, since=since, until=until)
    after = parse_cursor(cursor)
    if format == "csv":
        lines = service.csv_lines(get_database(), ctx.principal.tenant_id, where, after)
        headers = {"Content-Disposition": 'attachment; filename="audit.csv"'}
        return StreamingResponse(lines, media_type="text/csv; charset=utf-8", headers=headers)
    page = service.list_page(ctx.session, where, limit=limit, after=after)
    return AuditPageOut(
        items=[AuditEntryOut.model_validate(entry) for entry in page.items],
        next_cursor=page.next_cursor,
    )

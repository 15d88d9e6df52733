"""The audit-log page of the Admin area: filter by actor, action, target and dates, page
back through it, download what the filter matches as CSV (admins only)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, StreamingResponse

from socialcrm.audit import service
from socialcrm.audit.filters import AuditFilter, parse_cursor, parse_filter
from socialcrm.core.db import get_database
from socialcrm.core.errors import ValidationFailed
from socialcrm.core.web.context import AdminCtx
from socialcrm.core.web.forms import FormState, app_error_fields
from socialcrm.core.web.render import render
from socialcrm.tenancy.service import list_users

router = APIRouter()

Text = Annotated[str, Query(max_length=200)]
FIELDS = ("actor", "action", "target", "from", "to")
PAGE_SIZE = 50


def filter_values(
    actor: Text = "",
    action: Text = "",
    target: Text = "",
    since: Annotated[str, Query(alias="from", max_length=40)] = "",
    until: Annotated[str, Query(alias="to", max_length=40)] = "",
) -> dict[str, str]:
    """The filter as typed (a query dependency of the page and of its CSV download)."""
    return {"actor": actor, "action": action, "target": target, "from": since, "to": until}


Filter = Annotated[dict[str, str], Depends(filter_values)]


def _filter(values: dict[str, str]) -> AuditFilter:
    return parse_filter(
        actor=values["actor"],
        action=values["action"],
        target=values["target"],
        since=values["from"],
        until=values["to"],
    )


@router.get("/admin/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    ctx: AdminCtx,
    values: Filter,
    cursor: Annotated[str, Query(max_length=20)] = "",
) -> HTMLResponse:
    state = FormState(values)
    page = None
    try:
        page = service.list_page(
            ctx.session, _filter(values), limit=PAGE_SIZE, after=parse_cursor(cursor)
        )
    except ValidationFailed as exc:
        state.errors, state.status = app_error_fields(exc, FIELDS), exc.status_code
    return render(
        request,
        ctx,
        "admin/audit.html",
        status=state.status,
        state=state,
        page=page,
        names=service.actor_names(ctx.session, {e.actor for e in page.items} if page else ()),
        users=[user for user, _ in list_users(ctx.session, ctx.principal.tenant_id)],
        actions=service.known_actions(ctx.session),
        query=urlencode({k: v for k, v in values.items() if v}),
        first_page=not cursor,
        refused="The filter was not applied: see the fields marked below.",
    )


@router.get("/admin/audit.csv")
def audit_csv(ctx: AdminCtx, values: Filter) -> StreamingResponse:
    """Every entry the filter matches, newest first (the same export as GET /api/audit)."""
    lines = service.csv_lines(get_database(), ctx.principal.tenant_id, _filter(values))
    headers = {"Content-Disposition": 'attachment; filename="audit.csv"'}
    return StreamingResponse(lines, media_type="text/csv; charset=utf-8", headers=headers)

"""UI of merging two Contacts: pick the other one, see their differing fields side by side,
choose which value survives, merge (with ``identity.merge``, which moves every relation).

The page showing what will happen is the confirmation: nothing changes before its button.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.datastructures import FormData

from socialcrm.core import audit
from socialcrm.core.errors import AppError
from socialcrm.core.numbers import is_ascii_number
from socialcrm.core.web.context import Ctx, UiCtx
from socialcrm.core.web.csrf import check_csrf
from socialcrm.core.web.render import render
from socialcrm.crm import service as crm
from socialcrm.crm.models import Contact
from socialcrm.crm.ui import WRITERS, options, record_id, submitted
from socialcrm.identity.merge import MERGEABLE_FIELDS, merge_choices, merge_contacts

router = APIRouter()

LABELS = {
    "name": "Name",
    "company": "Company",
    "title": "Job title",
    "website": "Website",
    "location": "Location",
    "tier": "Tier",
    "owner_id": "Owner",
}


@router.get("/contacts/{contact_id}/merge", response_class=HTMLResponse)
def merge_page(
    request: Request,
    ctx: UiCtx,
    contact_id: int,
    other: Annotated[str, Query(max_length=12)] = "",
    q: Annotated[str, Query(max_length=200)] = "",
) -> HTMLResponse:
    return _merge_view(request, ctx, contact_id, other, q, error="")


def _merge_view(
    request: Request, ctx: Ctx, contact_id: int, other: str, q: str, *, error: str
) -> HTMLResponse:
    ctx.require(*WRITERS["contacts"])
    target = crm.get(ctx.session, Contact, record_id(contact_id))
    source = None
    if is_ascii_number(other):
        source = crm.get(ctx.session, Contact, record_id(int(other[:11])))
    found = []
    if source is None and q.strip():
        page = crm.list_page(ctx.session, Contact, limit=20, cursor=None, query=q)
        found = [c for c in page.items if c.id != target.id]
    return render(
        request,
        ctx,
        "identity/merge.html",
        status=400 if error else 200,
        target=target,
        source=source,
        q=q,
        found=found,
        choices=merge_choices(target, source) if source is not None else [],
        labels=LABELS,
        people={int(i): name for i, name in options(ctx)["users"]},
        error=error,
    )


Submitted = Annotated[FormData, Depends(submitted)]


@router.post("/contacts/{contact_id}/merge", response_model=None)
def merge(
    request: Request, ctx: UiCtx, contact_id: int, form: Submitted
) -> RedirectResponse | HTMLResponse:
    check_csrf(request, str(form.get("csrf", "")))
    ctx.require(*WRITERS["contacts"])
    other = str(form.get("other", ""))
    keep = [f for f in MERGEABLE_FIELDS if form.get(f"keep_{f}") == "other"]
    try:
        with ctx.session.begin_nested():
            snapshot, moved = merge_contacts(
                ctx.session,
                ctx.principal.tenant_id,
                source_id=record_id(int(other[:11])) if is_ascii_number(other) else 0,
                target_id=record_id(contact_id),
                keep=keep,
            )
    except AppError as exc:
        return _merge_view(request, ctx, contact_id, other, "", error=exc.message)
    audit.record(
        ctx.session,
        actor=ctx.principal.actor,
        action="contact.merge",
        target_type="contact",
        target_id=contact_id,
        details={"source_contact": snapshot, "moved": moved, "kept_from_source": keep},
    )
    return RedirectResponse(f"/contacts/{contact_id}?done=merged", status_code=303)

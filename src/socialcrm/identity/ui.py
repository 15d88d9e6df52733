"""UI of identity resolution: the review queue (merge or reject, one click each)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import select

from socialcrm.core.db import MAX_ID
from socialcrm.core.errors import AppError
from socialcrm.crm.models import Contact, Lead
from socialcrm.identity import reviews, service
from socialcrm.identity.models import ReviewStatus
from socialcrm.tenancy.models import Role
from socialcrm.web.ui import CsrfField, UiCtx, _check_csrf, render

router = APIRouter()

ReviewId = Annotated[int, Path(ge=1, le=MAX_ID)]


@router.get("/identity/reviews", response_class=HTMLResponse)
def reviews_page(
    request: Request,
    ctx: UiCtx,
    status: ReviewStatus = ReviewStatus.PENDING,
    done: Annotated[str, Query(max_length=40)] = "",
    error: Annotated[str, Query(max_length=300)] = "",
) -> HTMLResponse:
    items, _ = reviews.list_reviews(ctx.session, status=status, limit=200, cursor=None)
    contact_ids = {
        cid for r in items for cid in (r.candidate_contact_id, r.source_contact_id) if cid
    }
    names = dict(
        ctx.session.execute(select(Contact.id, Contact.name).where(Contact.id.in_(contact_ids)))
        .tuples()
        .all()
    )
    lead_ids = {r.lead_id for r in items if r.lead_id}
    leads = dict(
        ctx.session.execute(select(Lead.id, Lead.name).where(Lead.id.in_(lead_ids))).tuples().all()
    )
    return render(
        request,
        ctx,
        "identity_reviews.html",
        reviews=items,
        names=names,
        leads=leads,
        current_status=status.value,
        statuses=[s.value for s in ReviewStatus],
        can_decide=ctx.principal.role in (Role.ADMIN, Role.AGENT),
        done=done,
        error=error,
    )


@router.post("/identity/reviews/{review_id}/merge")
def merge_from_ui(
    ctx: UiCtx,
    request: Request,
    review_id: ReviewId,
    csrf: CsrfField,
    contact_id: Annotated[str, Form(max_length=12)] = "",
) -> RedirectResponse:
    _check_csrf(request, csrf)
    ctx.require(Role.ADMIN, Role.AGENT)
    target = int(contact_id) if contact_id.strip().isdigit() else None
    if target is not None and not 1 <= target <= MAX_ID:
        target = None
    try:
        with ctx.session.begin_nested():
            service.merge_review(
                ctx.session,
                ctx.principal.tenant_id,
                review_id,
                contact_id=target,
                keep=[],
                actor=ctx.principal.actor,
            )
    except AppError as exc:
        return RedirectResponse(f"/identity/reviews?error={_q(exc.message)}", status_code=303)
    return RedirectResponse(f"/identity/reviews?done=merged-{review_id}", status_code=303)


@router.post("/identity/reviews/{review_id}/reject")
def reject_from_ui(
    ctx: UiCtx, request: Request, review_id: ReviewId, csrf: CsrfField
) -> RedirectResponse:
    _check_csrf(request, csrf)
    ctx.require(Role.ADMIN, Role.AGENT)
    try:
        with ctx.session.begin_nested():
            service.reject_review(ctx.session, review_id, note="", actor=ctx.principal.actor)
    except AppError as exc:
        return RedirectResponse(f"/identity/reviews?error={_q(exc.message)}", status_code=303)
    return RedirectResponse(f"/identity/reviews?done=rejected-{review_id}", status_code=303)


def _q(text: str) -> str:
    from urllib.parse import quote

    return quote(text[:300])

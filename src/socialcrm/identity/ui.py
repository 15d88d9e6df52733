"""UI of identity resolution: the review queue, and the page where a person compares a sender
with the customer it may be and picks the Contact to merge into (searched, never typed)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from socialcrm.core.db import MAX_ID
from socialcrm.core.errors import AppError
from socialcrm.core.numbers import is_ascii_number
from socialcrm.core.principal import Role
from socialcrm.core.web.context import UiCtx
from socialcrm.core.web.csrf import CsrfField, check_csrf
from socialcrm.core.web.notices import shown, with_notice
from socialcrm.core.web.render import render
from socialcrm.crm import service as crm
from socialcrm.crm.models import Contact, Lead
from socialcrm.identity import decisions, reviews
from socialcrm.identity.homoglyphs import Glyph, differences
from socialcrm.identity.models import IdentityReview, ReviewKind, ReviewStatus

router = APIRouter()

ReviewId = Annotated[int, Path(ge=1, le=MAX_ID)]
Search = Annotated[str, Query(max_length=200)]
PICKER_RESULTS = 20


@dataclass(frozen=True, slots=True)
class ContactChoice:
    """A Contact as the picker offers it: enough to tell two people with one name apart."""

    id: int
    name: str
    detail: str

    @classmethod
    def of(cls, contact: Contact) -> ContactChoice:
        emails = [str(e) for e in contact.emails or []]
        parts = [contact.company, emails[0] if emails else "", str(contact.tier)]
        return cls(contact.id, contact.name, " · ".join(p for p in parts if p))


def compared(review: IdentityReview) -> list[Glyph]:
    """A look-alike handle against the handle it imitates; empty for other reviews."""
    known = review.signals.get("confusable_with") if review.kind == ReviewKind.CONFUSABLE else None
    return differences(review.handle, str(known)) if known else []


@router.get("/identity/reviews", response_class=HTMLResponse)
def reviews_page(
    request: Request,
    ctx: UiCtx,
    status: ReviewStatus = ReviewStatus.PENDING,
    done: Annotated[str, Query(max_length=40)] = "",
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
        glyphs={r.id: compared(r) for r in items},
        names=names,
        leads=leads,
        reports=decisions.REPORTS,
        current_status=status.value,
        statuses=[s.value for s in ReviewStatus],
        can_decide=ctx.principal.role in (Role.ADMIN, Role.AGENT),
        done=done,
        error=shown(request, "error"),
    )


@router.get("/identity/reviews/{review_id}/merge", response_class=HTMLResponse)
def merge_page(
    request: Request,
    ctx: UiCtx,
    review_id: ReviewId,
    q: Search = "",
) -> Any:
    """Compare, search, choose: the candidate is pre-chosen only when it is not the customer
    a look-alike imitates (or whose handle another account now uses)."""
    ctx.require(Role.ADMIN, Role.AGENT)
    try:
        review = decisions.get_review(ctx.session, review_id)
    except AppError as exc:
        return _back_to_queue(error=exc.message)
    if review.status != ReviewStatus.PENDING or review.kind in decisions.REPORTS:
        return _back_to_queue(error=f"review {review_id} has nothing to merge")
    known = [
        ContactChoice.of(c)
        for cid in (review.candidate_contact_id, review.source_contact_id)
        if cid and (c := ctx.session.get(Contact, cid)) is not None
    ]
    found = _search(ctx.session, q) if q.strip() else []
    chosen = None if review.kind in decisions.NAME_THE_CONTACT or not known else known[0].id
    return render(
        request,
        ctx,
        "identity_review_merge.html",
        review=review,
        glyphs=compared(review),
        known=known,
        found=[c for c in found if c.id not in {k.id for k in known}],
        chosen=chosen,
        q=q,
        error=shown(request, "error"),
    )


@router.get("/identity/contacts/search")
def search_contacts(ctx: UiCtx, q: Search = "") -> JSONResponse:
    """The picker's search as you type (the page works without it: the form does the same)."""
    ctx.require(Role.ADMIN, Role.AGENT)
    found = _search(ctx.session, q) if q.strip() else []
    return JSONResponse(
        {"items": [{"id": c.id, "name": c.name, "detail": c.detail} for c in found]}
    )


def _search(session: Session, q: str) -> list[ContactChoice]:
    page = crm.list_page(session, Contact, limit=PICKER_RESULTS, cursor=None, query=q)
    return [ContactChoice.of(c) for c in page.items]


@router.post("/identity/reviews/{review_id}/merge")
def merge_from_ui(
    ctx: UiCtx,
    request: Request,
    review_id: ReviewId,
    csrf: CsrfField,
    contact_id: Annotated[str, Form(max_length=12)] = "",
) -> RedirectResponse:
    check_csrf(request, csrf)
    ctx.require(Role.ADMIN, Role.AGENT)
    target = int(contact_id) if is_ascii_number(contact_id.strip()) else None
    if target is not None and not 1 <= target <= MAX_ID:
        target = None
    try:
        with ctx.session.begin_nested():
            decisions.merge_review(
                ctx.session,
                ctx.principal.tenant_id,
                review_id,
                contact_id=target,
                keep=[],
                actor=ctx.principal.actor,
            )
    except AppError as exc:
        return RedirectResponse(
            with_notice(f"/identity/reviews/{review_id}/merge", exc.message, name="error"),
            status_code=303,
        )
    return RedirectResponse(f"/identity/reviews?done=merged-{review_id}", status_code=303)


@router.post("/identity/reviews/{review_id}/reject")
def reject_from_ui(
    ctx: UiCtx, request: Request, review_id: ReviewId, csrf: CsrfField
) -> RedirectResponse:
    check_csrf(request, csrf)
    ctx.require(Role.ADMIN, Role.AGENT)
    try:
        with ctx.session.begin_nested():
            decisions.reject_review(ctx.session, review_id, note="", actor=ctx.principal.actor)
    except AppError as exc:
        return _back_to_queue(error=exc.message)
    return RedirectResponse(f"/identity/reviews?done=rejected-{review_id}", status_code=303)


def _back_to_queue(*, error: str) -> RedirectResponse:
    return RedirectResponse(with_notice("/identity/reviews", error, name="error"), status_code=303)

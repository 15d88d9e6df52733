"""HTTP API of identity resolution and the review queue (thin: parse, call, shape)."""

from __future__ import annotations

from contextlib import asynccontextmanager
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from socialcrm.core.db import MAX_ID
from socialcrm.core.errors import envelope
from socialcrm.core.principal import Role
from socialcrm.core.web.context import (
    ApiCtx,
    api_unit_of_work,
    authenticator,
    bearer_token,
    in_one_thread,
)
from socialcrm.identity import decisions, reviews, tenant_policy
from socialcrm.identity import resolve as resolving
from socialcrm.identity.models import ReviewStatus
from socialcrm.identity.policy import IdentityPolicy
from socialcrm.identity.schemas import (
    BatchIn,
    BatchItemError,
    BatchItemOut,
    BatchOut,
    MergeIn,
    MergeOut,
    RejectIn,
    ResolveIn,
    ResolveOut,
    ReviewOut,
    ReviewPage,
)

router = APIRouter(tags=["identity"])

ReviewId = Annotated[int, Path(ge=1, le=MAX_ID)]
DECIDERS = (Role.ADMIN, Role.AGENT)


# The API's unit of work (``ApiCtx``'s), opened by the resolve routes themselves: a sender
# answered from memory needs none, and FastAPI's machinery for a generator dependency costs
# more CPU than the rest of such an answer (bench/identity.py, session 8).
_unit_of_work = asynccontextmanager(api_unit_of_work)


@router.post(
    "/api/v1/resolve",
    response_model=ResolveOut,
    name="resolve_identity",
    responses={429: {"description": "this platform user id went over its budget"}},
)
async def resolve(request: Request, body: ResolveIn) -> Response:
    """Who is this sender? Resolves a handle (and platform user id) to a known customer."""
    # A caller authenticated moments ago asking about a sender answered moments ago (the usual
    # case in front of routing) is answered here, on the event loop: no unit of work, no
    # thread, no connection. Anything else: the unit of work, its database part in one thread.
    screened: resolving.Screening | None = None
    principal = authenticator(request).remembered_api_key(bearer_token(request))
    limited: resolving.SenderRateLimited | None = None
    if principal is not None:
        try:
            screened = await resolving.screen_without_database(principal.tenant_id, body)
        except resolving.SenderRateLimited as exc:
            limited = exc
        if isinstance(screened, ResolveOut):
            return _json(screened)
    async with _unit_of_work(request) as ctx:
        tenant_id, actor = ctx.principal.tenant_id, ctx.principal.actor
        if limited is not None:
            report = partial(_rate_limited, tenant_id=tenant_id, exc=limited, actor=actor)
            return await in_one_thread(ctx, report)

        def work(session: Session) -> Response:
            try:
                answer = resolving.resolve(session, tenant_id, body, actor=actor, screened=screened)
            except resolving.SenderRateLimited as exc:
                # Answered, not raised: the report for review is committed with this request.
                return _rate_limited(session, tenant_id=tenant_id, exc=exc, actor=actor)
            return _json(answer)

        return await in_one_thread(ctx, work)


def _rate_limited(
    session: Session, *, tenant_id: int, exc: resolving.SenderRateLimited, actor: str
) -> Response:
    resolving.log_rate_limited(session, tenant_id, exc, actor=actor)
    return JSONResponse(
        envelope(exc.code, exc.message, exc.details),
        exc.status_code,
        headers={"Retry-After": str(exc.details["retry_after"])},
    )


def _json(answer: ResolveOut) -> Response:
    # Serialised here: FastAPI would validate the answer against ``response_model`` again.
    return Response(answer.model_dump_json(), media_type="application/json")


@router.post("/api/v1/resolve:batch", response_model=BatchOut, name="resolve_identity_batch")
async def resolve_batch(ctx: ApiCtx, body: BatchIn) -> BatchOut:
    """Up to 1,000 senders at once; each item answers with its result or its own error."""
    tenant_id, actor = ctx.principal.tenant_id, ctx.principal.actor
    results = await in_one_thread(
        ctx, lambda session: resolving.resolve_batch(session, tenant_id, body.requests, actor=actor)
    )
    items = [
        BatchItemOut(
            index=i,
            result=result,
            error=None
            if error is None
            else BatchItemError(code=error.code, message=error.message, details=error.details),
        )
        for i, (result, error) in enumerate(results)
    ]
    return BatchOut(results=items)


@router.get("/api/identity/reviews", response_model=ReviewPage, name="list_identity_reviews")
def list_reviews(
    ctx: ApiCtx,
    status: ReviewStatus | None = ReviewStatus.PENDING,
    limit: Annotated[int, Query(ge=1, le=reviews.MAX_PAGE)] = 50,
    cursor: Annotated[str | None, Query(max_length=20)] = None,
) -> Any:
    items, next_cursor = reviews.list_reviews(
        ctx.session, status=status, limit=limit, cursor=cursor
    )
    return {"items": items, "next_cursor": next_cursor}


@router.get("/api/identity/reviews/{review_id}", response_model=ReviewOut)
def get_review(ctx: ApiCtx, review_id: ReviewId) -> Any:
    return decisions.get_review(ctx.session, review_id)


@router.post("/api/identity/reviews/{review_id}/merge", response_model=MergeOut)
def merge_review(
    ctx: ApiCtx, review_id: ReviewId, body: Annotated[MergeIn | None, Body()] = None
) -> Any:
    """Same customer: link the identity (its Lead, or the other Contact) to the survivor."""
    ctx.require(*DECIDERS)
    body = body or MergeIn()
    review, contact_id, moved = decisions.merge_review(
        ctx.session,
        ctx.principal.tenant_id,
        review_id,
        contact_id=body.contact_id,
        keep=list(body.keep),
        actor=ctx.principal.actor,
    )
    return {"review": review, "contact_id": contact_id, "moved": moved}


@router.post("/api/identity/reviews/{review_id}/reject", response_model=ReviewOut)
def reject_review(
    ctx: ApiCtx, review_id: ReviewId, body: Annotated[RejectIn | None, Body()] = None
) -> Any:
    """Not the same customer: close the question; it is not asked again."""
    ctx.require(*DECIDERS)
    note = body.note if body is not None else ""
    return decisions.reject_review(ctx.session, review_id, note=note, actor=ctx.principal.actor)


@router.get("/api/identity/settings", response_model=IdentityPolicy)
def get_settings(ctx: ApiCtx) -> IdentityPolicy:
    return tenant_policy.tenant_policy(ctx.session, ctx.principal.tenant_id)[0]


@router.put("/api/identity/settings", response_model=IdentityPolicy)
def put_settings(ctx: ApiCtx, body: IdentityPolicy) -> IdentityPolicy:
    """Threshold, always-fresh tiers, cache TTL (≤ 300 s), rate limit, bot rules (admin)."""
    return tenant_policy.change_settings(ctx.session, ctx.principal, body)

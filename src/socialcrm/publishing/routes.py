"""HTTP API of publishing, tracked links and campaign attribution (thin)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session

from socialcrm.core.db import MAX_ID, get_database, utcnow
from socialcrm.core.errors import NotFound, ValidationFailed
from socialcrm.core.numbers import parse_cursor
from socialcrm.core.web.context import ApiCtx
from socialcrm.publishing import attribution, compose, next_steps, service, textrules
from socialcrm.publishing.models import ScheduledPost
from socialcrm.publishing.schemas import (
    ApprovalPolicy,
    BudgetIn,
    BudgetOut,
    CountIn,
    CountOut,
    PostIn,
    PostOut,
    PostPage,
    ReviewIn,
    TargetOut,
)

router = APIRouter(prefix="/api", tags=["publishing"])
redirects = APIRouter(tags=["publishing"])

RecordId = Annotated[int, Path(ge=1, le=MAX_ID)]


def composition(body: PostIn) -> compose.Composition:
    return compose.Composition(
        text=body.text,
        targets=[compose.TargetSpec(t.account_id, t.text) for t in body.targets],
        action=body.action,
        local_time=body.local_time,
        time_zone=body.time_zone,
        occurrence=body.occurrence,
        campaign_id=body.campaign_id,
        track_links=body.track_links,
        utm_campaign=body.utm_campaign,
        media_urls=tuple(body.media_urls),
    )


def post_out(session: Session, posts: list[ScheduledPost]) -> list[PostOut]:
    grouped = service.targets_of(session, [p.id for p in posts])
    active = service.account_activity(
        session, [t.social_account_id for targets in grouped.values() for t in targets]
    )
    now = utcnow()
    shaped = []
    for post in posts:
        targets = grouped[post.id]
        statuses: dict[str, int] = {}
        for target in targets:
            statuses[target.status] = statuses.get(target.status, 0) + 1
        shaped.append(
            PostOut(
                id=post.id,
                text=post.text,
                campaign_id=post.campaign_id,
                time_zone=post.time_zone,
                local_time=post.local_time,
                publish_at=post.publish_at,
                track_links=post.track_links,
                approved_by=post.approved_by,
                review_note=post.review_note,
                statuses=statuses,
                targets=[
                    TargetOut.model_validate(t).model_copy(
                        update={
                            "stuck": next_steps.is_stuck(t, now),
                            "next_steps": next_steps.next_steps(
                                t, account_active=active.get(t.social_account_id, False), now=now
                            ),
                        }
                    )
                    for t in targets
                ],
                created_at=post.created_at,
            )
        )
    return shaped


@router.post("/publishing/posts", status_code=201, response_model=PostOut)
def create_post(ctx: ApiCtx, body: PostIn) -> PostOut:
    post = compose.compose(ctx.session, ctx.principal, composition(body))
    return post_out(ctx.session, [post])[0]


@router.get("/publishing/posts", response_model=PostPage)
def list_posts(
    ctx: ApiCtx,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=20)] = None,
    status: Annotated[
        str | None,
        Query(
            max_length=20,
            description="posts with a target in this status, or `stuck`: in `publishing` "
            "with nobody on it (its worker died)",
        ),
    ] = None,
) -> PostPage:
    posts = service.list_posts(
        ctx.session, limit=limit + 1, before=parse_cursor(cursor), status=status
    )
    more = len(posts) > limit
    posts = posts[:limit]
    return PostPage(
        items=post_out(ctx.session, posts), next_cursor=str(posts[-1].id) if more else None
    )


@router.get("/publishing/posts/{post_id}", response_model=PostOut)
def get_post(ctx: ApiCtx, post_id: RecordId) -> PostOut:
    return post_out(ctx.session, [compose.get_post(ctx.session, post_id)])[0]


@router.put("/publishing/posts/{post_id}", response_model=PostOut)
def update_post(ctx: ApiCtx, post_id: RecordId, body: PostIn) -> PostOut:
    post = compose.update_post(ctx.session, ctx.principal, post_id, composition(body))
    return post_out(ctx.session, [post])[0]


@router.post("/publishing/posts/{post_id}/cancel", response_model=PostOut)
def cancel_post(ctx: ApiCtx, post_id: RecordId) -> PostOut:
    post = service.cancel_post(ctx.session, ctx.principal, post_id)
    return post_out(ctx.session, [post])[0]


@router.post("/publishing/targets/{target_id}/cancel", response_model=PostOut)
def cancel_target(ctx: ApiCtx, target_id: RecordId) -> PostOut:
    """One account of a post: while it waits, or when stuck in ``publishing`` (its worker is
    gone; it may have reached the network). 409 while a worker holds it."""
    post = service.cancel_target(ctx.session, ctx.principal, target_id)
    return post_out(ctx.session, [post])[0]


@router.post("/publishing/targets/{target_id}/retry", response_model=PostOut)
def retry_target(ctx: ApiCtx, target_id: RecordId) -> PostOut:
    """A failed account of a post, published again now (its ``next_steps`` hold ``retry``).
    409 when the network already has it, or when its account must be reconnected first."""
    post = service.retry_target(ctx.session, ctx.principal, target_id)
    return post_out(ctx.session, [post])[0]


@router.post("/publishing/posts/{post_id}/review", response_model=PostOut)
def review_post(ctx: ApiCtx, post_id: RecordId, body: ReviewIn) -> PostOut:
    post = service.review_post(
        ctx.session, ctx.principal, post_id, approve=body.approve, note=body.note
    )
    return post_out(ctx.session, [post])[0]


@router.put("/publishing/settings", response_model=ApprovalPolicy)
def set_policy(ctx: ApiCtx, body: ApprovalPolicy) -> ApprovalPolicy:
    required = service.set_approval_policy(ctx.session, ctx.principal, body.approval_required)
    return ApprovalPolicy(approval_required=required)


@router.post("/publishing/count", response_model=list[CountOut])
def count_text(ctx: ApiCtx, body: CountIn) -> list[CountOut]:
    """Length in each network's own units, as the composer's counters show it."""
    return [count_out(n, body.text) for n in body.networks]


def count_out(network: str, text: str) -> CountOut:
    counted = textrules.count(network, text)
    return CountOut(
        network=network,
        used=counted.used,
        limit=counted.limit,
        unit=counted.unit,
        fits=counted.fits,
    )


@router.put("/campaigns/{campaign_id}/budget", response_model=BudgetOut)
def set_budget(ctx: ApiCtx, campaign_id: RecordId, body: BudgetIn) -> Any:
    return service.set_budget(ctx.session, ctx.principal, campaign_id, body.amount, body.currency)


def _dates(start: str | None, end: str | None) -> tuple[date | None, date | None]:
    try:
        return (
            date.fromisoformat(start) if start else None,
            date.fromisoformat(end) if end else None,
        )
    except ValueError as exc:
        raise ValidationFailed("from and to are dates like 2026-03-01") from exc


DateParam = Annotated[str | None, Query(max_length=10)]


@router.get("/campaigns/{campaign_id}/attribution")
def campaign_attribution(
    ctx: ApiCtx,
    campaign_id: RecordId,
    start: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=10)] = None,
) -> dict[str, Any]:
    low, high = _dates(start, end)
    result = attribution.campaign_attribution(ctx.session, campaign_id, start=low, end=high)
    return attribution.as_dict(result)


@router.get("/campaigns/{campaign_id}/attribution.csv")
def campaign_attribution_csv(
    ctx: ApiCtx,
    campaign_id: RecordId,
    start: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=10)] = None,
) -> Response:
    low, high = _dates(start, end)
    result = attribution.campaign_attribution(ctx.session, campaign_id, start=low, end=high)
    return Response(
        attribution.as_csv(result),
        media_type="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="campaign-{campaign_id}-attribution.csv"'
        },
    )


@redirects.get("/r/{code}", include_in_schema=True)
def follow(code: Annotated[str, Path(max_length=16)]) -> RedirectResponse:
    """A tracked link: count the click-through, then send the browser on (302)."""
    destination = service.follow_link(get_database(), code)
    if destination is None:
        raise NotFound("unknown link")
    return RedirectResponse(destination, status_code=302)

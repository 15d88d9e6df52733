"""UI of publishing: the composer with per-network counters, the scheduled-posts list, and the
campaign page with server-rendered SVG charts and its CSV."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import (
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from pydantic import ValidationError
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from socialcrm.core.db import get_database, utcnow
from socialcrm.core.errors import AppError
from socialcrm.core.numbers import is_ascii_number
from socialcrm.core.web import sse
from socialcrm.core.web.context import UiCtx
from socialcrm.core.web.csrf import CsrfField, check_csrf
from socialcrm.core.web.notices import shown, with_notice
from socialcrm.core.web.render import render
from socialcrm.crm import service as crm
from socialcrm.crm.models import Campaign
from socialcrm.crm.ui import record_id
from socialcrm.providers.registry import PROVIDERS
from socialcrm.publishing import attribution, calendar, charts, service, textrules
from socialcrm.publishing import compose as composing
from socialcrm.publishing.clock import Occurrence
from socialcrm.publishing.routes import post_out
from socialcrm.publishing.schemas import BudgetIn

router = APIRouter()
LIST_INTERVAL_S = 1.0


def _page(
    request: Request,
    ctx: Any,
    *,
    error: str = "",
    notice: str = "",
    status: int = 200,
    form: dict[str, Any] | None = None,
) -> HTMLResponse:
    accounts = composing.brand_accounts(ctx.session)
    posts = post_out(ctx.session, service.list_posts(ctx.session, limit=50))
    handles = {a.id: f"{a.provider} @{a.handle}" for a in accounts}
    campaigns = list(ctx.session.scalars(select(Campaign).order_by(Campaign.name).limit(200)))
    return render(
        request,
        ctx,
        "publishing/index.html",
        status=status,
        accounts=accounts,
        posts=posts,
        handles=handles,
        campaigns=campaigns,
        error=error,
        notice=notice,
        form=form or {},
        limits={n: info.text_rule.limit for n, info in PROVIDERS.items()},
        is_admin=ctx.principal.role == "admin",
    )


@router.get("/publishing", response_class=HTMLResponse)
def composer(request: Request, ctx: UiCtx) -> HTMLResponse:
    return _page(request, ctx, notice=shown(request))


@router.post("/publishing/count")
def count(ctx: UiCtx, text: Annotated[str, Form(max_length=70_000)] = "") -> JSONResponse:
    """The composer's live counters: each network's own units, from the same rules as the API."""
    networks = sorted({a.provider for a in composing.brand_accounts(ctx.session)} or {"x"})
    counted = [textrules.count(n, text) for n in networks]
    return JSONResponse(
        [
            {"network": c.network, "used": c.used, "limit": c.limit, "fits": c.fits, "unit": c.unit}
            for c in counted
        ]
    )


@router.post("/publishing", response_model=None)
async def compose(request: Request, ctx: UiCtx, csrf: CsrfField) -> Response:
    check_csrf(request, csrf)
    form = await request.form()
    values = {k: str(v) for k, v in form.items()}
    account_ids = [int(str(v)) for v in form.getlist("account_id") if is_ascii_number(str(v))]
    return await run_in_threadpool(_compose, request, ctx, values, account_ids)


def _compose(
    request: Request, ctx: Any, values: dict[str, str], account_ids: list[int]
) -> Response:
    """The database work of the composer, off the event loop."""
    targets = [composing.TargetSpec(a, values.get(f"variant_{a}") or None) for a in account_ids]
    try:
        local = datetime.fromisoformat(values["local_time"]) if values.get("local_time") else None
        campaign = values.get("campaign_id", "")
        comp = composing.Composition(
            text=values.get("text", "")[:70_000],
            targets=targets,
            action=values.get("action", "draft"),
            local_time=local,
            time_zone=values.get("time_zone", "UTC")[:64] or "UTC",
            occurrence=Occurrence(values.get("occurrence", "earlier")),
            campaign_id=int(campaign) if is_ascii_number(campaign) else None,
            track_links=values.get("track_links") == "on",
        )
        post = composing.compose(ctx.session, ctx.principal, comp)
    except (AppError, ValueError) as exc:
        ctx.session.rollback()
        message = exc.message if isinstance(exc, AppError) else "the time is not valid"
        details = exc.details if isinstance(exc, AppError) else {}
        problems = details.get("too_long_or_empty") if isinstance(details, dict) else None
        if problems:
            message += ": " + "; ".join(
                f"{p['network']} {p['used']}/{p['limit']} {p['unit']}" for p in problems
            )
        status = exc.status_code if isinstance(exc, AppError) else 400
        return _page(request, ctx, error=message, status=status, form=values)
    return RedirectResponse(with_notice("/publishing", f"Post {post.id} saved"), status_code=303)


def _act(request: Request, ctx: Any, action: Callable[[], object], notice: str) -> Response:
    """One button's use case: back to the list with a notice, or the page with the error."""
    try:
        action()
    except AppError as exc:
        ctx.session.rollback()
        return _page(request, ctx, error=exc.message, status=exc.status_code)
    return RedirectResponse(with_notice("/publishing", notice), status_code=303)


@router.post("/publishing/{post_id}/cancel", response_model=None)
def cancel(request: Request, ctx: UiCtx, post_id: int, csrf: CsrfField) -> Response:
    check_csrf(request, csrf)
    return _act(
        request,
        ctx,
        lambda: service.cancel_post(ctx.session, ctx.principal, post_id),
        "Post cancelled",
    )


@router.post("/publishing/targets/{target_id}/cancel", response_model=None)
def cancel_target(request: Request, ctx: UiCtx, target_id: int, csrf: CsrfField) -> Response:
    """A target stuck in ``publishing`` (or still waiting), one account at a time."""
    check_csrf(request, csrf)
    return _act(
        request,
        ctx,
        lambda: service.cancel_target(ctx.session, ctx.principal, target_id),
        "Cancelled",
    )


@router.post("/publishing/targets/{target_id}/retry", response_model=None)
def retry_target(request: Request, ctx: UiCtx, target_id: int, csrf: CsrfField) -> Response:
    """A failed account of a post, published again now."""
    check_csrf(request, csrf)
    return _act(
        request,
        ctx,
        lambda: service.retry_target(ctx.session, ctx.principal, target_id),
        "Publishing again",
    )


@router.get("/publishing/events", response_class=StreamingResponse)
def publishing_events(request: Request, ctx: UiCtx) -> StreamingResponse:
    """Server-sent events while the list is open: its targets' statuses whenever they change
    (scheduled, publishing, published or failed, and why)."""
    tenant_id = ctx.principal.tenant_id

    def read() -> dict[str, Any]:
        with get_database().session(tenant_id=tenant_id) as session:
            return service.live_state(session)

    events = sse.state_events(read, sse.never, request=request, interval=LIST_INTERVAL_S)
    return sse.stream_response(events)


@router.post("/publishing/{post_id}/review", response_model=None)
def review(
    request: Request,
    ctx: UiCtx,
    post_id: int,
    csrf: CsrfField,
    decision: Annotated[str, Form(max_length=10)] = "approve",
) -> Response:
    check_csrf(request, csrf)
    approve = decision == "approve"
    return _act(
        request,
        ctx,
        lambda: service.review_post(ctx.session, ctx.principal, post_id, approve=approve),
        "Review saved",
    )


@router.get("/publishing/calendar", response_class=HTMLResponse)
def calendar_page(
    request: Request,
    ctx: UiCtx,
    view: calendar.View = calendar.View.WEEK,
    start: date | None = None,
) -> HTMLResponse:
    """The week or month of posts around ``start`` (today by default), on their UTC days."""
    today = utcnow().date()
    anchor = start or today
    found = calendar.calendar(ctx.session, view, anchor, today=today)
    p = found.period
    return render(
        request,
        ctx,
        "publishing/calendar.html",
        cal=found,
        links={
            "previous": _calendar_href(view, p.previous),
            "next": _calendar_href(view, p.next),
            "today": _calendar_href(view, today),
            # Switching views keeps the day asked for: a month and back is the same week.
            "week": _calendar_href(calendar.View.WEEK, anchor),
            "month": _calendar_href(calendar.View.MONTH, anchor),
        },
    )


def _calendar_href(view: calendar.View, start: date) -> str:
    return f"/publishing/calendar?view={view.value}&start={start.isoformat()}"


@router.get("/campaigns/{campaign_id}", response_class=HTMLResponse)
def campaign_page(request: Request, ctx: UiCtx, campaign_id: int) -> HTMLResponse:
    return _campaign(request, ctx, campaign_id, budget_form={}, budget_error="")


def _campaign(
    request: Request,
    ctx: Any,
    campaign_id: int,
    *,
    budget_form: dict[str, str],
    budget_error: str,
) -> HTMLResponse:
    """The campaign's attribution with its charts, its budget form and its timeline."""
    result = attribution.campaign_attribution(ctx.session, record_id(campaign_id))
    campaign = crm.get(ctx.session, Campaign, result.campaign_id)
    return render(
        request,
        ctx,
        "publishing/campaign.html",
        status=400 if budget_error else 200,
        campaign=campaign,
        report=attribution.as_dict(result),
        budget_form=budget_form
        or {
            "amount": f"{result.budget['amount']:.2f}" if result.budget else "",
            "currency": result.budget["currency"] if result.budget else "USD",
        },
        budget_error=budget_error,
        timeline=crm.timeline(ctx.session, campaign),
        log_for=("campaign_id", campaign.id),
        charts=charts.campaign_charts(
            result,
            campaign.starts_at.date() if campaign.starts_at else None,
            campaign.ends_at.date() if campaign.ends_at else None,
        ),
    )


@router.post("/campaigns/{campaign_id}/budget", response_model=None)
def set_budget(
    request: Request,
    ctx: UiCtx,
    campaign_id: int,
    csrf: CsrfField,
    amount: Annotated[str, Form(max_length=40)] = "",
    currency: Annotated[str, Form(max_length=10)] = "USD",
) -> Response:
    check_csrf(request, csrf)
    composing.require_writer(ctx.principal)  # a refusal, not a form error, for an agent
    typed = {"amount": amount, "currency": currency}
    try:
        budget = BudgetIn.model_validate({"amount": amount.strip() or None, "currency": currency})
    except ValidationError:
        message = "Enter an amount of 0 or more, and a three-letter currency such as EUR."
        return _campaign(request, ctx, campaign_id, budget_form=typed, budget_error=message)
    service.set_budget(
        ctx.session, ctx.principal, record_id(campaign_id), budget.amount, budget.currency
    )
    return RedirectResponse(f"/campaigns/{campaign_id}?done=budget#budget", status_code=303)


@router.get("/campaigns/{campaign_id}/attribution.csv")
def campaign_csv(ctx: UiCtx, campaign_id: int) -> Response:
    result = attribution.campaign_attribution(ctx.session, campaign_id)
    return Response(
        attribution.as_csv(result),
        media_type="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="campaign-{campaign_id}-attribution.csv"'
        },
    )

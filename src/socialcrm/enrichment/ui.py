"""UI of enrichment: the Contact's Social tab and the enrichment report (server-rendered)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from markupsafe import Markup

from socialcrm.core.db import get_database
from socialcrm.core.errors import AppError
from socialcrm.core.principal import Role
from socialcrm.core.queue import enqueue_after_commit
from socialcrm.core.web import charts, sse
from socialcrm.core.web.context import Ctx, UiCtx
from socialcrm.core.web.csrf import CsrfField, check_csrf
from socialcrm.core.web.forms import choice
from socialcrm.core.web.notices import shown, with_notice
from socialcrm.core.web.render import render
from socialcrm.enrichment import links, runs, workflows
from socialcrm.enrichment.models import LinkStatus
from socialcrm.enrichment.replace import ReplaceRequired
from socialcrm.providers.base import Capability
from socialcrm.providers.registry import PROVIDERS

router = APIRouter()
ReplaceField = Annotated[bool, Form()]


def _lookup_networks() -> list[dict[str, str]]:
    return [
        {"name": name, "display_name": info.display_name}
        for name, info in PROVIDERS.items()
        if Capability.LOOKUP_BY_HANDLE in info.capabilities
    ]


@dataclass(frozen=True, slots=True)
class ReplaceStep:
    """The confirm step before a profile replaces the Contact's one on its network."""

    conflict: ReplaceRequired
    action: str  # where "Replace" posts to (with replace=1)
    fields: dict[str, str]  # what the first attempt posted, sent again


def _social_page(
    request: Request,
    ctx: Ctx,
    contact_id: int,
    *,
    error: str = "",
    notice: str = "",
    status: int = 200,
    replacing: ReplaceStep | None = None,
) -> HTMLResponse:
    contact = links.contact_or_404(ctx.session, contact_id)
    view = links.social_of(ctx.session, contact)
    linked = [v for v in view.links if v.link.status in (LinkStatus.LINKED, LinkStatus.STALE)]
    suggested = [v for v in view.links if v.link.status == LinkStatus.SUGGESTED]
    return render(
        request,
        ctx,
        "enrichment/social.html",
        status=status,
        contact=contact,
        view=view,
        linked=linked,
        suggested=suggested,
        networks=_lookup_networks(),
        error=error,
        notice=notice,
        replacing=replacing,
    )


@router.get("/contacts/{contact_id}/social", response_class=HTMLResponse)
def social_tab(request: Request, ctx: UiCtx, contact_id: int) -> HTMLResponse:
    return _social_page(request, ctx, contact_id, notice=shown(request))


def _back(contact_id: int, notice: str) -> RedirectResponse:
    return RedirectResponse(with_notice(f"/contacts/{contact_id}/social", notice), status_code=303)


@router.post("/contacts/{contact_id}/social/find", response_model=None)
def find_profiles(request: Request, ctx: UiCtx, contact_id: int, csrf: CsrfField) -> Response:
    check_csrf(request, csrf)
    contact = links.contact_or_404(ctx.session, contact_id)
    try:
        runs.ensure_startable(ctx.session)
        outcome = workflows.enrich_contacts(get_database(), ctx.principal.tenant_id, [contact.id])
    except AppError as exc:
        ctx.session.rollback()
        return _social_page(request, ctx, contact_id, error=exc.message, status=exc.status_code)
    if outcome.status == "deferred":
        return _back(contact_id, "The network asked us to wait; the search continues later.")
    c = outcome.counts
    return _back(contact_id, f"Search done: {c.linked} linked, {c.suggested} suggested.")


@router.post("/contacts/{contact_id}/social/links", response_model=None)
def add_profile(
    request: Request,
    ctx: UiCtx,
    contact_id: int,
    csrf: CsrfField,
    handle_or_url: Annotated[str, Form(max_length=500)],
    provider: Annotated[str, Form(max_length=20)] = "",
    replace: ReplaceField = False,
) -> Response:
    check_csrf(request, csrf)
    try:
        workflows.add_manual_link(
            get_database(),
            ctx.principal,
            contact_id,
            handle_or_url,
            provider or None,
            replace=replace,
        )
    except ReplaceRequired as exc:
        action = f"/contacts/{contact_id}/social/links"
        fields = {"handle_or_url": handle_or_url, "provider": provider}
        step = ReplaceStep(exc, action, fields)
        return _social_page(request, ctx, contact_id, replacing=step, status=409)
    except AppError as exc:
        ctx.session.rollback()
        return _social_page(request, ctx, contact_id, error=exc.message, status=exc.status_code)
    return _back(contact_id, "Profile linked.")


@router.post("/social-links/{link_id}/confirm", response_model=None)
def confirm(
    request: Request, ctx: UiCtx, link_id: int, csrf: CsrfField, replace: ReplaceField = False
) -> Response:
    check_csrf(request, csrf)
    try:
        link = links.confirm_link(ctx.session, ctx.principal, link_id, replace=replace)
    except ReplaceRequired as exc:
        contact_id = links.get_link(ctx.session, link_id).contact_id
        step = ReplaceStep(exc, f"/social-links/{link_id}/confirm", {})
        return _social_page(request, ctx, contact_id, replacing=step, status=409)
    return _back(link.contact_id, "Suggestion confirmed.")


@router.post("/social-links/{link_id}/{action}", response_model=None)
def decide(request: Request, ctx: UiCtx, link_id: int, action: str, csrf: CsrfField) -> Response:
    check_csrf(request, csrf)
    actions = {
        "reject": (links.reject_link, "Suggestion rejected; it will not be suggested again."),
        "use-as-photo": (links.use_as_photo, "Contact photo updated."),
    }
    if action not in actions:
        return render(request, ctx, "error.html", status=404, title="Not found", message="")
    do, notice = actions[action]
    link = do(ctx.session, ctx.principal, link_id)
    return _back(link.contact_id, notice)


def coverage_chart(report: dict[str, Any]) -> Markup:
    """Share of the tenant's Contacts linked on each network, as bars from 0 to 100%."""
    return charts.hbar_chart(
        f"Share of {report['contacts']} Contacts linked, per network",
        [(row["provider"], row["share"]) for row in report["coverage"]],
        value_name="share linked",
        index_name="Network",
        fmt=charts.format_share,
        top=1.0,
        empty="No Contact is linked to a social profile yet.",
    )


RUN_NOTICES = {
    "started": "Enrichment run started: its progress shows below.",
    "running": "A run is already under way: its progress shows below.",
}


def _runs_values(request: Request, ctx: Ctx) -> dict[str, Any]:
    recent = runs.list_runs(ctx.session, 10)
    can_start = ctx.principal.role in (Role.ADMIN, Role.MARKETING)
    return {
        "runs": recent,
        "can_start": can_start,
        "offer_retry": can_start and runs.retry_offered(recent),
        "notice": choice(RUN_NOTICES, request.query_params.get("done", "")),
    }


@router.get("/enrichment", response_class=HTMLResponse)
def report_page(request: Request, ctx: UiCtx) -> HTMLResponse:
    report = links.report(ctx.session)
    return render(
        request,
        ctx,
        "enrichment/report.html",
        report=report,
        coverage_chart=coverage_chart(report),
        **_runs_values(request, ctx),
    )


@router.get("/enrichment/runs", response_class=HTMLResponse)
def runs_page(request: Request, ctx: UiCtx) -> HTMLResponse:
    """The runs alone (the report page's live section re-reads this, not the whole report)."""
    return render(request, ctx, "enrichment/runs.html", **_runs_values(request, ctx))


@router.get("/enrichment/events", response_class=StreamingResponse)
def runs_events(request: Request, ctx: UiCtx) -> StreamingResponse:
    """Server-sent events while a runs list is open: the runs' progress whenever it changes."""
    tenant_id = ctx.principal.tenant_id

    def read() -> dict[str, Any]:
        with get_database().session(tenant_id=tenant_id) as session:
            return runs.runs_state(session)

    return sse.stream_response(sse.state_events(read, sse.never, request=request))


@router.post("/enrichment/runs", response_model=None)
def start_run(request: Request, ctx: UiCtx, csrf: CsrfField) -> Response:
    """Start a run (or Retry after a failed one: a new run from the first Contact)."""
    check_csrf(request, csrf)
    ctx.require(Role.ADMIN, Role.MARKETING)
    runs.ensure_startable(ctx.session)
    run, new = runs.create_run(ctx.session, trigger="manual", actor=ctx.principal.actor)
    if new:
        from socialcrm.enrichment.tasks import run_enrichment

        enqueue_after_commit(ctx.session, run_enrichment, ctx.principal.tenant_id, run.id)
    return RedirectResponse(f"/enrichment?done={'started' if new else 'running'}", status_code=303)

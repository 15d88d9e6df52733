"""HTTP API of enrichment: thin; the use cases are in ``service`` and ``runs``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import StreamingResponse

from socialcrm.core.db import MAX_ID, get_database
from socialcrm.core.errors import NotFound
from socialcrm.core.principal import Role
from socialcrm.core.queue import enqueue_after_commit
from socialcrm.core.web import sse
from socialcrm.core.web.context import ApiCtx, ApiOrUiCtx
from socialcrm.enrichment import links, runs, schemas, service, views, workflows
from socialcrm.enrichment.models import ACTIVE_RUN_STATUSES, EnrichmentRun

router = APIRouter(prefix="/api", tags=["enrichment"])

RecordId = Annotated[int, Path(ge=1, le=MAX_ID)]
KeyParam = Annotated[str | None, Query(max_length=320)]
ReplaceParam = Annotated[
    bool, Query(description="replace the Contact's profile on a network where a person has one")
]


@router.get("/contacts/{contact_id}/social", response_model=schemas.SocialOut)
def contact_social(ctx: ApiCtx, contact_id: RecordId) -> Any:
    contact = links.contact_or_404(ctx.session, contact_id)
    return views.social_out(links.social_of(ctx.session, contact))


@router.post("/contacts/{contact_id}/social/find", response_model=schemas.FindOut)
def find_social_profiles(ctx: ApiCtx, contact_id: RecordId) -> Any:
    contact = links.contact_or_404(ctx.session, contact_id)
    runs.ensure_startable(ctx.session)
    outcome = workflows.enrich_contacts(get_database(), ctx.principal.tenant_id, [contact.id])
    if outcome.status == "deferred" and outcome.retry_at is not None:
        from socialcrm.enrichment.tasks import enrich_contact

        enrich_contact.schedule((ctx.principal.tenant_id, contact.id), eta=outcome.retry_at)
    return schemas.FindOut(
        status=outcome.status,
        retry_at=outcome.retry_at,
        reason=outcome.reason,
        counts=vars(outcome.counts),
        social=views.social_out(links.social_of(ctx.session, contact)),
    )


@router.post(
    "/contacts/{contact_id}/social/links",
    status_code=201,
    response_model=schemas.LinkOut,
    responses={409: {"description": "the Contact has its one profile on that network"}},
)
def add_social_link(ctx: ApiCtx, contact_id: RecordId, body: schemas.ManualLinkIn) -> Any:
    return workflows.add_manual_link(
        get_database(),
        ctx.principal,
        contact_id,
        body.handle_or_url,
        body.provider,
        replace=body.replace,
    )


@router.post(
    "/social-links/{link_id}/confirm",
    response_model=schemas.LinkOut,
    responses={409: {"description": "the Contact has its one profile on that network"}},
)
def confirm_social_link(ctx: ApiCtx, link_id: RecordId, replace: ReplaceParam = False) -> Any:
    return links.confirm_link(ctx.session, ctx.principal, link_id, replace=replace)


@router.post("/social-links/{link_id}/reject", response_model=schemas.LinkOut)
def reject_social_link(ctx: ApiCtx, link_id: RecordId) -> Any:
    return links.reject_link(ctx.session, ctx.principal, link_id)


@router.post("/social-links/{link_id}/use-as-photo", response_model=schemas.LinkOut)
def use_social_avatar(ctx: ApiCtx, link_id: RecordId) -> Any:
    return links.use_as_photo(ctx.session, ctx.principal, link_id)


@router.get(
    "/screen-pop",
    response_model=schemas.ScreenPopOut,
    responses={404: {"description": "no Contact has that email, phone or handle"}},
)
def screen_pop(
    ctx: ApiCtx, email: KeyParam = None, phone: KeyParam = None, handle: KeyParam = None
) -> Any:
    view = links.screen_pop(ctx.session, email=email, phone=phone, handle=handle)
    if view is None:
        raise NotFound("no contact matches")
    return views.screen_pop_out(view)


@router.get("/enrichment/report", response_model=schemas.ReportOut)
def enrichment_report(ctx: ApiCtx) -> Any:
    return links.report(ctx.session)


@router.get("/enrichment/settings", response_model=schemas.SettingsOut)
def get_settings(ctx: ApiCtx) -> Any:
    return service.tenant_policy(ctx.session, ctx.principal.tenant_id).as_dict()


@router.patch("/enrichment/settings", response_model=schemas.SettingsOut)
def change_settings(ctx: ApiCtx, body: schemas.SettingsIn) -> Any:
    changes = body.model_dump(exclude_none=True)
    return service.set_policy(ctx.session, ctx.principal, changes).as_dict()


@router.post("/enrichment/runs", status_code=202, response_model=schemas.RunOut)
def start_run(ctx: ApiCtx, response: Response) -> Any:
    ctx.require(Role.ADMIN, Role.MARKETING)
    runs.ensure_startable(ctx.session)
    run, new = runs.create_run(ctx.session, trigger="manual", actor=ctx.principal.actor)
    if new:
        from socialcrm.enrichment.tasks import run_enrichment

        enqueue_after_commit(ctx.session, run_enrichment, ctx.principal.tenant_id, run.id)
    else:
        response.status_code = 200  # the run already under way
    return run


@router.get("/enrichment/runs", response_model=schemas.RunList)
def list_runs(ctx: ApiCtx, limit: Annotated[int, Query(ge=1, le=100)] = 20) -> Any:
    return {"items": runs.list_runs(ctx.session, limit)}


@router.get("/enrichment/runs/{run_id}", response_model=schemas.RunOut)
def get_run(ctx: ApiCtx, run_id: RecordId) -> Any:
    return runs.get_run(ctx.session, run_id)


@router.get("/enrichment/runs/{run_id}/events")
def run_events(ctx: ApiOrUiCtx, request: Request, run_id: RecordId) -> StreamingResponse:
    """Server-sent events: the run's progress every half second until it ends (``end``). An
    API key or the UI's login session (a page's EventSource) may follow it."""
    runs.get_run(ctx.session, run_id)
    tenant_id = ctx.principal.tenant_id

    def final(state: dict[str, Any]) -> str | None:
        return None if state["status"] in ACTIVE_RUN_STATUSES else "end"

    events = sse.state_events(lambda: _run_state(tenant_id, run_id), final, request=request)
    return sse.stream_response(events)


def _run_state(tenant_id: int, run_id: int) -> dict[str, Any] | None:
    with get_database().session(tenant_id=tenant_id) as session:
        run = session.get(EnrichmentRun, run_id)
        if run is None:
            return None  # deleted meanwhile: the stream says ``gone``
        return schemas.RunOut.model_validate(run).model_dump(mode="json")

"""HTTP API of bulk jobs: create a socials job, read its state, stream progress, get results."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from socialcrm.core.db import get_database
from socialcrm.core.errors import Conflict
from socialcrm.core.web import sse
from socialcrm.core.web.context import ApiCtx, ApiOrUiCtx
from socialcrm.discovery import jobs, tasks
from socialcrm.discovery.models import DiscoveryJob
from socialcrm.discovery.schemas import JobCreated, JobSnapshot, JobUsage, SocialsJobIn
from socialcrm.tenancy.models import Tenant

router = APIRouter(prefix="/api/jobs", tags=["jobs"])


@router.post("/socials", status_code=202, response_model=JobCreated)
def create_socials_job(ctx: ApiCtx, body: SocialsJobIn) -> dict[str, Any]:
    job = jobs.create_socials_job(ctx.session, ctx.principal, body.items, body.source_job_id)
    tasks.enqueue_job(ctx.session, job)
    return {
        "id": job.id,
        "job_type": job.job_type,
        "status": job.status,
        "items_count": job.items_count,
        "ef_cost": job.ef_cost,
        "dropped_count": job.dropped_count,
        "source_job_id": job.source_job_id,
    }


@router.get("/usage", response_model=JobUsage)
def job_usage(ctx: ApiCtx) -> dict[str, Any]:
    """This calendar month's jobs (UTC): EF used, the ceiling, what is left, jobs created."""
    tenant = ctx.session.get(Tenant, ctx.principal.tenant_id)
    assert tenant is not None
    usage = jobs.month_usage(ctx.session, tenant)
    return {
        "month_start": usage.month_start.isoformat(),
        "ef_used": usage.ef_used,
        "ef_ceiling": usage.ef_ceiling,
        "ef_remaining": usage.ef_remaining,
        "jobs": usage.jobs,
    }


@router.get("/{job_id}", response_model=JobSnapshot)
def get_job(ctx: ApiCtx, job_id: str) -> dict[str, Any]:
    return jobs.snapshot(ctx.session, jobs.get_job(ctx.session, job_id))


@router.get("/{job_id}/events", response_class=StreamingResponse)
def job_events(ctx: ApiOrUiCtx, request: Request, job_id: str) -> StreamingResponse:
    """Server-sent events: ``progress`` whenever the counts change, then ``completed``,
    ``failed`` or ``cancelled`` with the final state; a comment line keeps idle connections
    open. An API key or the UI's login session (a page's EventSource) may follow it."""
    jobs.get_job(ctx.session, job_id)  # 404 before the stream starts
    tenant_id = ctx.principal.tenant_id

    def read() -> dict[str, Any] | None:
        with get_database().session(tenant_id=tenant_id) as session:
            job = session.get(DiscoveryJob, job_id)
            return None if job is None else jobs.snapshot(session, job, failure_sample=0)

    def final(state: dict[str, Any]) -> str | None:
        return str(state["status"]) if state["status"] in jobs.FINISHED else None

    return sse.stream_response(sse.state_events(read, final, request=request))


@router.post("/{job_id}/cancel", response_model=JobSnapshot)
def cancel_job(ctx: ApiCtx, job_id: str) -> dict[str, Any]:
    """Stop a pending or running job: items not crawled yet stay without results."""
    job = jobs.cancel_job(ctx.session, ctx.principal, job_id)
    return jobs.snapshot(ctx.session, job)


@router.get(
    "/{job_id}/results",
    responses={200: {"content": {"application/json": {}, "text/csv": {}}}},
)
def job_results(
    ctx: ApiOrUiCtx,
    request: Request,
    job_id: str,
    format: Annotated[Literal["json", "csv"] | None, Query()] = None,
) -> Response:
    """The enriched items: JSON (a list) or CSV (``?format=csv`` or ``Accept: text/csv``).
    An API key or the UI's login session (the job page's download links)."""
    job = jobs.get_job(ctx.session, job_id)
    if not jobs.is_finished(job):
        raise Conflict(
            f"job {job_id} is {job.status}: results are ready when it completes",
            details={
                "status": job.status,
                "progress": jobs.snapshot(ctx.session, job)["progress"],
            },
        )
    wants_csv = format == "csv" or (
        format is None and "text/csv" in request.headers.get("accept", "")
    )
    if wants_csv:
        body = "".join(jobs.results_csv(ctx.session, job))
        return Response(
            body,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="socials-{job.id}.csv"'},
        )
    headers = (
        {"Content-Disposition": f'attachment; filename="socials-{job.id}.json"'}
        if format == "json"
        else None
    )
    return JSONResponse(list(jobs.result_rows(ctx.session, job)), headers=headers)

"""HTTP API of bulk jobs: create a socials job, read its state, stream progress, get results."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from socialcrm.core.db import get_database
from socialcrm.core.errors import Conflict
from socialcrm.discovery import service, tasks
from socialcrm.discovery.models import DiscoveryJob
from socialcrm.discovery.schemas import JobCreated, JobSnapshot, JobUsage, SocialsJobIn
from socialcrm.tenancy.models import Tenant
from socialcrm.web.deps import ApiCtx

router = APIRouter(prefix="/api/jobs", tags=["jobs"])

EVENT_INTERVAL_S = 0.5
HEARTBEAT_S = 15.0


@router.post("/socials", status_code=202, response_model=JobCreated)
def create_socials_job(ctx: ApiCtx, body: SocialsJobIn) -> dict[str, Any]:
    job = service.create_socials_job(ctx.session, ctx.principal, body.items, body.source_job_id)
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
    usage = service.month_usage(ctx.session, tenant)
    return {
        "month_start": usage.month_start.isoformat(),
        "ef_used": usage.ef_used,
        "ef_ceiling": usage.ef_ceiling,
        "ef_remaining": usage.ef_remaining,
        "jobs": usage.jobs,
    }


@router.get("/{job_id}", response_model=JobSnapshot)
def get_job(ctx: ApiCtx, job_id: str) -> dict[str, Any]:
    return service.snapshot(ctx.session, service.get_job(ctx.session, job_id))


@router.get("/{job_id}/events", response_class=StreamingResponse)
def job_events(ctx: ApiCtx, job_id: str) -> StreamingResponse:
    """Server-sent events: ``progress`` whenever the counts change, then ``completed`` or
    ``failed`` with the final state; a comment line keeps idle connections open."""
    service.get_job(ctx.session, job_id)  # 404 before the stream starts
    stream = _events(ctx.principal.tenant_id, job_id)
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream, media_type="text/event-stream", headers=headers)


def _events(tenant_id: int, job_id: str) -> Iterator[str]:
    last_payload = ""
    last_sent = time.monotonic()
    while True:
        with get_database().session(tenant_id=tenant_id) as session:
            job = session.get(DiscoveryJob, job_id)
            if job is None:
                yield 'event: gone\ndata: {"status": "gone"}\n\n'
                return
            state = service.snapshot(session, job, failure_sample=0)
        payload = json.dumps(state, separators=(",", ":"))
        if payload != last_payload:
            yield f"event: progress\ndata: {payload}\n\n"
            last_payload, last_sent = payload, time.monotonic()
        elif time.monotonic() - last_sent > HEARTBEAT_S:
            yield ": keep-alive\n\n"
            last_sent = time.monotonic()
        if state["status"] in {"completed", "failed"}:
            yield f"event: {state['status']}\ndata: {payload}\n\n"
            return
        time.sleep(EVENT_INTERVAL_S)


@router.get(
    "/{job_id}/results",
    responses={200: {"content": {"application/json": {}, "text/csv": {}}}},
)
def job_results(
    ctx: ApiCtx,
    request: Request,
    job_id: str,
    format: Annotated[Literal["json", "csv"] | None, Query()] = None,
) -> Response:
    """The enriched items: JSON (a list) or CSV (``?format=csv`` or ``Accept: text/csv``)."""
    job = service.get_job(ctx.session, job_id)
    if not service.is_finished(job):
        raise Conflict(
            f"job {job_id} is {job.status}: results are ready when it completes",
            details={
                "status": job.status,
                "progress": service.snapshot(ctx.session, job)["progress"],
            },
        )
    wants_csv = format == "csv" or (
        format is None and "text/csv" in request.headers.get("accept", "")
    )
    if wants_csv:
        body = "".join(service.results_csv(ctx.session, job))
        return Response(
            body,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="socials-{job.id}.csv"'},
        )
    return JSONResponse(list(service.result_rows(ctx.session, job)))

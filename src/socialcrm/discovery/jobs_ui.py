"""UI of discovery jobs: the list, a new job from pasted sites or an uploaded CSV, and a job's
page whose progress bar follows the jobs API's own event stream."""

from __future__ import annotations

from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from socialcrm.core.db import get_database
from socialcrm.core.errors import AppError
from socialcrm.core.web import sse
from socialcrm.core.web.context import Ctx, UiCtx
from socialcrm.core.web.csrf import check_csrf
from socialcrm.core.web.forms import FORM, FormState, choice, done
from socialcrm.core.web.render import render
from socialcrm.discovery import failures, files, jobs, tasks
from socialcrm.discovery.jobs import MAX_ITEMS
from socialcrm.tenancy.models import Tenant

router = APIRouter()

PATH: Final = "/discovery/jobs"
MAX_UPLOAD: Final = 5 * 1024 * 1024
LIST_INTERVAL_S: Final = 1.0
NOTICES: Final = {
    "created": "Job created: its progress shows below as the sites are read.",
    "cancelled": "Job cancelled: sites not read yet have no results.",
}
FIELD_OF: Final = {"no_eligible_items": "sites", "validation_error": "sites"}


def _jobs_page(request: Request, ctx: Ctx, state: FormState | None = None) -> HTMLResponse:
    tenant = ctx.session.get(Tenant, ctx.principal.tenant_id)
    assert tenant is not None
    form = state or FormState()
    return render(
        request,
        ctx,
        "discovery/jobs.html",
        status=form.status if form.errors else 200,
        jobs=jobs.list_jobs(ctx.session),
        usage=jobs.month_usage(ctx.session, tenant),
        ef_per_item=jobs.estimate_cost(1),
        progress=jobs.progress,
        charged=jobs.ef_charged,
        max_items=MAX_ITEMS,
        state=form,
        notice=choice(NOTICES, request.query_params.get("done", "")),
    )


@router.get(PATH, response_class=HTMLResponse)
def jobs_page(request: Request, ctx: UiCtx) -> HTMLResponse:
    return _jobs_page(request, ctx)


@router.post(PATH, response_model=None)
async def create_job(request: Request, ctx: UiCtx) -> Response:
    form = await request.form(max_files=1, max_fields=10)
    check_csrf(request, str(form.get("csrf", "")))
    sites = str(form.get("sites", ""))[:2_000_000]
    upload = form.get("file")
    data, name = b"", ""
    if isinstance(upload, UploadFile) and upload.filename:
        data, name = await upload.read(MAX_UPLOAD + 1), upload.filename
    return await run_in_threadpool(_create, request, ctx, sites, data, name)


def _create(request: Request, ctx: Ctx, sites: str, data: bytes, name: str) -> Response:
    """The database work of a new job, off the event loop; errors beside their field."""
    values = {"sites": sites}
    try:
        items = _items(sites, data, name)
        job = jobs.create_socials_job(ctx.session, ctx.principal, items)
        tasks.enqueue_job(ctx.session, job)
    except _FieldError as exc:
        return _jobs_page(request, ctx, FormState(values, {exc.field: str(exc)}, 400))
    except AppError as exc:
        ctx.session.rollback()
        field = FIELD_OF.get(exc.code, FORM)
        message = exc.message
        if exc.code == "no_eligible_items":
            message = "none of these is a web address or a domain name (such as example.com)"
        return _jobs_page(request, ctx, FormState(values, {field: message}, exc.status_code))
    return done(f"{PATH}/{job.id}", "created")


class _FieldError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _items(sites: str, data: bytes, name: str) -> list[dict[str, Any]]:
    """The job's items: the uploaded CSV's rows, else one per pasted line."""
    if name:
        if len(data) > MAX_UPLOAD:
            raise _FieldError("file", f"{name} is larger than 5 MB: split it into several jobs")
        try:
            items = files.uploaded_items(data, name)
        except files.InputError as exc:
            raise _FieldError("file", str(exc)) from exc
        if sites.strip():
            raise _FieldError("sites", "paste sites or upload a file, not both")
        field = "file"
    else:
        items, field = files.pasted_items(sites), "sites"
        if not items:
            raise _FieldError("sites", "paste at least one site, or choose a CSV file")
    if len(items) > MAX_ITEMS:
        raise _FieldError(field, f"at most {MAX_ITEMS:,} sites per job: this has {len(items):,}")
    return items


@router.get(PATH + "/events", response_class=StreamingResponse)
def jobs_events(request: Request, ctx: UiCtx) -> StreamingResponse:
    """Server-sent events while the list is open: its jobs' status and progress."""
    tenant_id = ctx.principal.tenant_id

    def read() -> dict[str, Any]:
        with get_database().session(tenant_id=tenant_id) as session:
            return jobs.jobs_state(session)

    events = sse.state_events(read, sse.never, request=request, interval=LIST_INTERVAL_S)
    return sse.stream_response(events)


@router.get(PATH + "/{job_id}", response_class=HTMLResponse)
def job_page(request: Request, ctx: UiCtx, job_id: str) -> HTMLResponse:
    job = jobs.get_job(ctx.session, job_id)
    state = jobs.snapshot(ctx.session, job)
    return render(
        request,
        ctx,
        "discovery/job.html",
        job=job,
        state=state,
        finished=jobs.is_finished(job),
        charged=jobs.ef_charged(job),
        reasons=failures.summary(state["failures"]["by_reason"]),
        notice=choice(NOTICES, request.query_params.get("done", "")),
    )


@router.post(PATH + "/{job_id}/cancel", response_model=None)
async def cancel_job(request: Request, ctx: UiCtx, job_id: str) -> Response:
    form = await request.form(max_files=0, max_fields=5)
    check_csrf(request, str(form.get("csrf", "")))
    await run_in_threadpool(jobs.cancel_job, ctx.session, ctx.principal, job_id)
    return RedirectResponse(f"{PATH}/{job_id}?done=cancelled", status_code=303)

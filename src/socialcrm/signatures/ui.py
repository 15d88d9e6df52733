"""UI: received emails, the enrichment window (a checkbox per value, grouped per participant),
the Contact's enrichment page with its completeness, and enrichment from a ticket's emails."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, StreamingResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session, object_session

from socialcrm.core.db import get_database
from socialcrm.core.errors import AppError
from socialcrm.core.numbers import is_ascii_number
from socialcrm.core.principal import Role
from socialcrm.core.web import sse
from socialcrm.core.web.context import Ctx, UiCtx
from socialcrm.core.web.csrf import CsrfField, check_csrf
from socialcrm.core.web.render import render, templates
from socialcrm.crm import service as crm
from socialcrm.crm.models import Contact
from socialcrm.signatures import inbox, policy, suggestions
from socialcrm.signatures.models import EnrichmentSuggestion, SuggestionStatus

router = APIRouter()
LIST_INTERVAL_S = 1.0

IdList = Annotated[list[int], Form()]
TextList = Annotated[list[str], Form()]


def pending_email_values(contact: Contact) -> int:
    """For the Contact page's enrichment button: how many values wait (0 hides it, as does
    email enrichment turned off)."""
    session = object_session(contact)
    if session is None or not policy.get_settings(session, contact.tenant_id).mining_enabled:
        return 0
    count = session.scalar(
        select(func.count(EnrichmentSuggestion.id)).where(
            EnrichmentSuggestion.subject_key == f"contact:{contact.id}",
            EnrichmentSuggestion.status == SuggestionStatus.PENDING,
        )
    )
    return int(count or 0)


templates.env.globals["pending_email_values"] = pending_email_values


@router.get("/emails", response_class=HTMLResponse)
def emails_page(request: Request, ctx: UiCtx) -> HTMLResponse:
    emails, _ = inbox.list_emails(ctx.session, limit=100, cursor=None)
    rows = [{"email": e, "pending": suggestions.has_pending(ctx.session, e)} for e in emails]
    return render(
        request,
        ctx,
        "signatures/emails.html",
        rows=rows,
        settings=policy.get_settings(ctx.session, ctx.principal.tenant_id),
        is_admin=ctx.principal.role == Role.ADMIN,
    )


@router.get("/emails/events", response_class=StreamingResponse)
def emails_events(request: Request, ctx: UiCtx) -> StreamingResponse:
    """Server-sent events while the list is open: new mail from an import or a mailbox sync."""
    tenant_id = ctx.principal.tenant_id

    def read() -> dict[str, Any]:
        with get_database().session(tenant_id=tenant_id) as session:
            return inbox.emails_state(session)

    events = sse.state_events(read, sse.never, request=request, interval=LIST_INTERVAL_S)
    return sse.stream_response(events)


# Before /emails/{email_id}, which would otherwise take "settings" for an id. The email
# settings (mining switch included) are one page of the Admin area.
@router.get("/emails/settings", response_model=None)
def email_settings_page(ctx: UiCtx) -> RedirectResponse:
    ctx.require(Role.ADMIN)
    return RedirectResponse("/admin/email", status_code=303)


@router.get("/emails/{email_id}", response_class=HTMLResponse)
def email_page(request: Request, ctx: UiCtx, email_id: int, saved: int = 0) -> HTMLResponse:
    email = inbox.get_email(ctx.session, email_id)
    window = suggestions.email_enrichment(ctx.session, email.id)
    return render(
        request,
        ctx,
        "signatures/email.html",
        email=email,
        windows=[window],
        contacts=_contact_choices(ctx.session),
        saved=bool(saved),
        error="",
    )


@router.post("/emails/{email_id}/enrichment", response_model=None)
def save_email_enrichment(
    request: Request,
    ctx: UiCtx,
    email_id: int,
    csrf: CsrfField,
    shown: IdList = [],  # noqa: B006 (FastAPI reads the default, never mutates it)
    accept: IdList = [],  # noqa: B006
    create: TextList = [],  # noqa: B006
    link_address: TextList = [],  # noqa: B006
    link_contact: TextList = [],  # noqa: B006
    back: Annotated[str, Form(max_length=200)] = "",
) -> HTMLResponse | RedirectResponse:
    check_csrf(request, csrf)
    inbox.get_email(ctx.session, email_id)  # a missing email is its 404, never "saved"
    try:
        save_window(
            ctx,
            email_id,
            shown,
            accept,
            create,
            dict(zip(link_address, link_contact, strict=False)),
        )
    except AppError as exc:
        ctx.session.rollback()
        email = inbox.get_email(ctx.session, email_id)
        return render(
            request,
            ctx,
            "signatures/email.html",
            status=exc.status_code,
            email=email,
            windows=[suggestions.email_enrichment(ctx.session, email.id)],
            contacts=_contact_choices(ctx.session),
            saved=False,
            error=exc.message,
        )
    target = back if back.startswith("/") and not back.startswith("//") else f"/emails/{email_id}"
    return RedirectResponse(f"{target}?saved=1", status_code=303)


def save_window(
    ctx: Ctx,
    email_id: int,
    shown: list[int],
    accept: list[int],
    create: list[str],
    links: dict[str, str],
) -> None:
    """What Save in the window does: connect unknown addresses, then per Contact accept the
    ticked values and reject the unticked ones (they are not offered again)."""
    actor = ctx.principal.actor
    for address in create:
        suggestions.connect_participant(
            ctx.session, email_id, address, contact_id=None, create=True, name=None, actor=actor
        )
    for address, contact_ref in links.items():
        if contact_ref.strip() and address not in create:
            suggestions.connect_participant(
                ctx.session,
                email_id,
                address,
                contact_id=_contact_id(contact_ref),
                create=False,
                name=None,
                actor=actor,
            )
    rows = ctx.session.scalars(
        select(EnrichmentSuggestion).where(EnrichmentSuggestion.id.in_(set(shown)))
    ).all()
    per_contact: dict[int, tuple[list[int], list[int]]] = {}
    for row in rows:
        if row.status != SuggestionStatus.PENDING:
            continue
        ticked = row.id in accept
        if row.contact_id is None:
            if not ticked:  # an address that stays unknown: remember the "no" all the same
                row.status = SuggestionStatus.REJECTED
                row.decided_by = actor
            continue
        accepted, rejected = per_contact.setdefault(row.contact_id, ([], []))
        (accepted if ticked else rejected).append(row.id)
    for contact_id, (accepted, rejected) in per_contact.items():
        _apply_one_per_field(ctx, contact_id, accepted, rejected)


def _apply_one_per_field(
    ctx: Ctx, contact_id: int, accepted: list[int], rejected: list[int]
) -> None:
    """Single-valued fields take the first ticked value; other ticked ones stay pending."""
    rows = {
        r.id: r
        for r in ctx.session.scalars(
            select(EnrichmentSuggestion).where(EnrichmentSuggestion.id.in_(accepted))
        )
    }
    taken: set[str] = set()
    keep: list[int] = []
    for i in accepted:
        field = rows[i].field
        if field in suggestions.SINGLE_FIELDS:
            if field in taken:
                continue
            taken.add(field)
        keep.append(i)
    suggestions.apply(
        ctx.session, contact_id, accept=keep, reject=rejected, actor=ctx.principal.actor
    )


def _contact_id(ref: str) -> int:
    value = ref.strip().split(" ", 1)[0].lstrip("#")
    if not is_ascii_number(value):
        raise AppError("pick a contact from the list (its number comes first)")
    return int(value)


def _contact_choices(session: Session) -> list[Contact]:
    return list(crm.list_page(session, Contact, limit=200, cursor=None).items)


@router.get("/contacts/{contact_id}/enrichment", response_class=HTMLResponse)
def contact_enrichment_page(
    request: Request, ctx: UiCtx, contact_id: int, saved: int = 0
) -> HTMLResponse:
    view = suggestions.contact_enrichment(ctx.session, contact_id)
    contact = crm.get(ctx.session, Contact, contact_id)
    window: dict[str, Any] = {
        "email_id": None,
        "participants": [
            {
                "email": ", ".join(contact.emails),
                "name": contact.name,
                "contact_id": contact.id,
                "contact_name": contact.name,
                "actions": ["enrich"] if view["pending"] else [],
                "values": view["pending"],
            }
        ],
    }
    return render(
        request,
        ctx,
        "signatures/contact_enrichment.html",
        contact=contact,
        view=view,
        window=window,
        saved=bool(saved),
    )


@router.post("/contacts/{contact_id}/enrichment", response_model=None)
def save_contact_enrichment(
    request: Request,
    ctx: UiCtx,
    contact_id: int,
    csrf: CsrfField,
    shown: IdList = [],  # noqa: B006
    accept: IdList = [],  # noqa: B006
) -> RedirectResponse:
    check_csrf(request, csrf)
    pending = {s["id"] for s in suggestions.contact_enrichment(ctx.session, contact_id)["pending"]}
    shown_ids = [i for i in shown if i in pending]
    ticked = [i for i in accept if i in shown_ids]
    _apply_one_per_field(ctx, contact_id, ticked, [i for i in shown_ids if i not in ticked])
    return RedirectResponse(f"/contacts/{contact_id}/enrichment?saved=1", status_code=303)


@router.get("/tickets/{ticket_id}/enrichment", response_class=HTMLResponse)
def ticket_enrichment_page(
    request: Request, ctx: UiCtx, ticket_id: int, saved: int = 0
) -> HTMLResponse:
    view = suggestions.ticket_enrichment(ctx.session, ticket_id)
    return render(
        request,
        ctx,
        "signatures/ticket.html",
        view=view,
        windows=view["emails"],
        contacts=_contact_choices(ctx.session),
        saved=bool(saved),
    )

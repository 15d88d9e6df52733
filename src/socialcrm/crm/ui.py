"""UI of the CRM records: Contacts, Accounts, Leads, Tickets, Campaigns and their timelines.

Routes parse a form, call the same CRM services the API calls (with the API's schemas, roles
and audit records), and redirect (POST-redirect-GET). A form with an error is shown again with
what was typed and the error beside its field. Deleting asks first, on a page of its own, so
it works without JavaScript. Banners come from a fixed list (``?done=saved``), never from the
address. Other domains add panels to a Ticket's page with ``add_ticket_panel`` (engage adds
the conversation and its reply box).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData

from socialcrm.core import audit
from socialcrm.core.db import MAX_ID, Base, utcnow
from socialcrm.core.errors import AppError, NotFound
from socialcrm.core.numbers import is_ascii_number
from socialcrm.core.principal import Role
from socialcrm.core.web.context import Ctx, UiCtx
from socialcrm.core.web.csrf import check_csrf
from socialcrm.core.web.render import render, templates
from socialcrm.crm import forms, leads, phones, service, sla, tickets
from socialcrm.crm.models import (
    Account,
    Activity,
    Campaign,
    Contact,
    Lead,
    LeadStatus,
    Priority,
    Ticket,
    TicketStatus,
)
from socialcrm.crm.routes import SHAPES
from socialcrm.crm.schemas import NETWORKS, TypedPhone
from socialcrm.tenancy.models import User
from socialcrm.tenancy.service import list_users

router = APIRouter()

DONE = {
    "created": "Created.",
    "saved": "Saved.",
    "deleted": "Deleted.",
    "converted": "The lead is now a contact.",
    "merged": "Merged: the other contact's history is now on this one.",
    "logged": "Added to the timeline.",
    "budget": "Budget saved.",
    "phone_types": "Phone types saved.",
}
Filter = Annotated[str, Query(max_length=80)]
Cursor = Annotated[str, Query(max_length=20)]


def done_notice(request: Request) -> str:
    """The banner of a finished action: one of a fixed set, whatever the address says."""
    return DONE.get(request.query_params.get("done", ""), "")


def may_write(user: User | None, resource: str) -> bool:
    """Whether this user's role may change these records (the API's rule)."""
    return user is not None and Role(user.role) in WRITERS.get(resource, ())


templates.env.globals["done_notice"] = done_notice
templates.env.globals["may_write"] = may_write


async def submitted(request: Request) -> FormData:
    return await request.form()


Submitted = Annotated[FormData, Depends(submitted)]


def record_id(value: int) -> int:
    """An id no row can have is simply not found (a 404 page, never a database error)."""
    if not 1 <= value <= MAX_ID:
        raise NotFound(f"record {value} not found")
    return value


@dataclass(frozen=True, slots=True)
class Kind:
    """One kind of record as its pages see it."""

    resource: str
    model: type[Base]
    singular: str
    create: type[BaseModel]
    patch: type[BaseModel]

    @property
    def fields(self) -> tuple[forms.Field, ...]:
        return forms.FIELDS[self.resource]

    def page(self, record: Any) -> str:
        if isinstance(record, Activity):
            return _page_of_activity({f: getattr(record, f) for f, _ in TIMELINES})
        return f"/{self.resource}/{record.id}"


KINDS = {
    resource: Kind(
        resource,
        service.RESOURCES[resource],
        "activity" if resource == "activities" else resource.removesuffix("s"),
        create,
        patch,
    )
    for resource, (create, patch, _out, _writers) in SHAPES.items()
}
WRITERS = {resource: shape[3] for resource, shape in SHAPES.items()}


TIMELINES = (
    ("ticket_id", "tickets"),
    ("lead_id", "leads"),
    ("campaign_id", "campaigns"),
    ("contact_id", "contacts"),
)


def _page_of_activity(refs: dict[str, Any]) -> str:
    """The page whose timeline an Activity is on (the most specific record it refers to)."""
    for field, resource in TIMELINES:
        ref = refs.get(field)
        if ref not in (None, "") and is_ascii_number(str(ref)):
            return f"/{resource}/{ref}#timeline"
    return "/contacts"


def options(ctx: Ctx) -> dict[str, list[tuple[str, str]]]:
    """The choices of the forms' people, account and campaign selects."""
    return {
        "users": [
            (str(u.id), u.name or u.email)
            for u, _tenant in list_users(ctx.session, ctx.principal.tenant_id)
            if u.active
        ],
        "accounts": [(str(i), n) for i, n in service.names(ctx.session, Account)],
        "campaigns": [(str(i), n) for i, n in service.names(ctx.session, Campaign)],
    }


def _form_page(
    request: Request,
    ctx: Ctx,
    kind: Kind,
    values: dict[str, Any],
    *,
    record: Any = None,
    errors: dict[str, str] | None = None,
) -> HTMLResponse:
    if record is not None:
        back = kind.page(record)
    elif kind.resource == "activities":
        back = _page_of_activity(values)
    else:
        back = f"/{kind.resource}"
    return render(
        request,
        ctx,
        "crm/form.html",
        status=400 if errors else 200,
        kind=kind,
        record=record,
        back=back,
        fields=kind.fields,
        values=values,
        errors=errors or {},
        options=options(ctx),
        action=f"/{kind.resource}/{record.id}/edit" if record is not None else f"/{kind.resource}",
    )


def _validated(
    kind: Kind, schema: type[BaseModel], fields: tuple[forms.Field, ...], values: dict[str, Any]
) -> tuple[dict[str, Any] | None, dict[str, str]]:
    """The API body of these values, validated by the API's schema, or the errors."""
    try:
        parsed = schema.model_validate(forms.body(fields, values))
    except ValidationError as exc:
        return None, forms.plain_errors(kind.fields, exc)
    return parsed.model_dump(exclude_unset=True), {}


def _register(kind: Kind) -> None:
    resource, writers = kind.resource, WRITERS[kind.resource]

    @router.get(f"/{resource}/new", response_class=HTMLResponse, name=f"ui_new_{kind.singular}")
    def new_form(request: Request, ctx: UiCtx) -> HTMLResponse:
        ctx.require(*writers)
        return _form_page(request, ctx, kind, forms.new(kind.fields, request.query_params))

    @router.post(f"/{resource}", response_model=None, name=f"ui_create_{kind.singular}")
    def create(request: Request, ctx: UiCtx, form: Submitted) -> Response:
        check_csrf(request, str(form.get("csrf", "")))
        ctx.require(*writers)
        values = forms.read(kind.fields, form)
        changes, errors = _validated(kind, kind.create, kind.fields, values)
        if changes is None:
            return _form_page(request, ctx, kind, values, errors=errors)
        try:
            with ctx.session.begin_nested():
                record = service.create(ctx.session, kind.model, changes)
        except AppError as exc:
            errors = forms.reference_error(exc.details, exc.message)
            return _form_page(request, ctx, kind, values, errors=errors)
        _audit(ctx, f"{kind.singular}.create", kind, record.id)  # type: ignore[attr-defined]
        done = "logged" if resource == "activities" else "created"
        return _redirect(kind.page(record), done)

    if resource == "activities":
        return  # logged from a record's page; not edited or deleted on their own

    @router.get(f"/{resource}/{{rid}}/edit", response_class=HTMLResponse)
    def edit_form(request: Request, ctx: UiCtx, rid: int) -> HTMLResponse:
        ctx.require(*writers)
        record = service.get(ctx.session, kind.model, record_id(rid))
        return _form_page(request, ctx, kind, forms.present(kind.fields, record), record=record)

    @router.post(f"/{resource}/{{rid}}/edit", response_model=None)
    def edit(request: Request, ctx: UiCtx, rid: int, form: Submitted) -> Response:
        """The whole form (it says ``form=full``), or a quick form of a few of its fields."""
        check_csrf(request, str(form.get("csrf", "")))
        ctx.require(*writers)
        record = service.get(ctx.session, kind.model, record_id(rid))
        full = form.get("form") == "full"
        chosen = tuple(
            f for f in kind.fields if full or f.name in form or f"{f.name}_value" in form
        )
        values = {**forms.present(kind.fields, record), **forms.read(chosen, form)}
        changes, errors = _validated(kind, kind.patch, chosen, values)
        if changes is not None:
            try:
                with ctx.session.begin_nested():
                    service.update(ctx.session, kind.model, record.id, changes)  # type: ignore[attr-defined]
                return _redirect(kind.page(record), "saved")
            except AppError as exc:
                errors = forms.reference_error(exc.details, exc.message)
        return _form_page(request, ctx, kind, values, record=record, errors=errors)

    @router.get(f"/{resource}/{{rid}}/delete", response_class=HTMLResponse)
    def confirm_delete(request: Request, ctx: UiCtx, rid: int) -> HTMLResponse:
        ctx.require(*writers)
        record = service.get(ctx.session, kind.model, record_id(rid))
        return render(request, ctx, "crm/confirm_delete.html", kind=kind, record=record)

    @router.post(f"/{resource}/{{rid}}/delete", response_model=None)
    def delete(request: Request, ctx: UiCtx, rid: int, form: Submitted) -> Response:
        check_csrf(request, str(form.get("csrf", "")))
        ctx.require(*writers)
        service.delete(ctx.session, kind.model, record_id(rid))
        _audit(ctx, f"{kind.singular}.delete", kind, rid)
        return _redirect(f"/{resource}", "deleted")


def _audit(ctx: Ctx, action: str, kind: Kind, target_id: int) -> None:
    """The same audit record the API writes for this action."""
    audit.record(
        ctx.session,
        actor=ctx.principal.actor,
        action=action,
        target_type=kind.singular,
        target_id=target_id,
    )


def _redirect(target: str, done: str) -> RedirectResponse:
    path, _, anchor = target.partition("#")
    return RedirectResponse(f"{path}?done={done}" + (f"#{anchor}" if anchor else ""), 303)


# Registered before the records' own pages: "/contacts/new" is not contact "new".
for _kind in KINDS.values():
    _register(_kind)


# --- Contacts ---------------------------------------------------------------------------------


@router.get("/contacts", response_class=HTMLResponse)
def contacts_page(
    request: Request,
    ctx: UiCtx,
    q: Annotated[str, Query(max_length=200)] = "",
    cursor: Cursor = "",
) -> HTMLResponse:
    page = service.list_page(ctx.session, Contact, limit=50, cursor=cursor or None, query=q or None)
    return render(request, ctx, "contacts.html", page=page, q=q)


@router.get("/contacts/{contact_id}", response_class=HTMLResponse)
def contact_page(request: Request, ctx: UiCtx, contact_id: int) -> HTMLResponse:
    return contact_view(request, ctx, contact_id)


def contact_view(
    request: Request, ctx: Ctx, contact_id: int, *, status: int = 200, **panels: Any
) -> HTMLResponse:
    """A Contact's page; ``panels`` is what another domain's box on it shows again after a
    refused form (engage: the reply box's error and what was typed)."""
    contact = service.get(ctx.session, Contact, record_id(contact_id))
    related = [Lead.contact_id == contact.id]
    return render(
        request,
        ctx,
        "contact.html",
        status=status,
        **panels,
        contact=contact,
        phones=phones.normalise(contact.phones or []),
        phone_types=phones.PHONE_TYPES,
        account=ctx.session.get(Account, contact.account_id) if contact.account_id else None,
        owner=ctx.session.get(User, contact.owner_id) if contact.owner_id else None,
        leads=service.list_page(ctx.session, Lead, limit=20, cursor=None, where=related).items,
        tickets=service.list_page(
            ctx.session, Ticket, limit=20, cursor=None, where=[Ticket.contact_id == contact.id]
        ).items,
        timeline=service.timeline(ctx.session, contact),
        log_for=("contact_id", contact.id),
    )


@router.post("/contacts/{contact_id}/phone-types", response_model=None)
def change_phone_types(request: Request, ctx: UiCtx, contact_id: int, form: Submitted) -> Response:
    """The type of each of the Contact's phones (its numbers stay as they are)."""
    check_csrf(request, str(form.get("csrf", "")))
    ctx.require(*WRITERS["contacts"])
    contact = service.get(ctx.session, Contact, record_id(contact_id))
    chosen = dict(zip(form.getlist("number"), form.getlist("type"), strict=False))
    try:
        changed = [
            TypedPhone(number=p["number"], type=chosen.get(p["number"], p["type"])).model_dump()
            for p in phones.normalise(contact.phones or [])
        ]
    except ValidationError:
        message = "a phone type is a short word, like mobile or business"
        return contact_view(request, ctx, contact.id, status=400, phone_types_error=message)
    service.update(ctx.session, Contact, contact.id, {"phones": changed})
    return _redirect(f"/contacts/{contact.id}", "phone_types")


# --- Leads ------------------------------------------------------------------------------------


def _choice(value: str, allowed: Any) -> Any:
    return value if value in {str(a) for a in allowed} else None


def _ref(value: str) -> int | None:
    return int(value) if is_ascii_number(value) and 1 <= int(value[:11]) <= MAX_ID else None


@router.get("/leads", response_class=HTMLResponse)
def leads_page(
    request: Request,
    ctx: UiCtx,
    status: Filter = "",
    network: Filter = "",
    owner: Filter = "",
    campaign: Filter = "",
    cursor: Cursor = "",
) -> HTMLResponse:
    filters = leads.LeadFilters(
        status=LeadStatus(status) if _choice(status, LeadStatus) else None,
        network=_choice(network, NETWORKS),
        owner_id=ctx.principal.user_id if owner == "me" else _ref(owner),
        unassigned=owner == "none",
        campaign_id=_ref(campaign),
    )
    page = leads.list_leads(ctx.session, filters, limit=50, cursor=cursor or None)
    return render(
        request,
        ctx,
        "crm/leads.html",
        page=page,
        social=leads.attribution(ctx.session, [lead.id for lead in page.items]),
        f={"status": status, "network": network, "owner": owner, "campaign": campaign},
        statuses=list(LeadStatus),
        networks=NETWORKS,
        options=options(ctx),
    )


@router.get("/leads/{lead_id}", response_class=HTMLResponse)
def lead_page(request: Request, ctx: UiCtx, lead_id: int) -> HTMLResponse:
    lead = service.get(ctx.session, Lead, record_id(lead_id))
    return render(
        request,
        ctx,
        "crm/lead.html",
        lead=lead,
        social=leads.attribution(ctx.session, [lead.id]).get(lead.id),
        contact=ctx.session.get(Contact, lead.contact_id) if lead.contact_id else None,
        campaign=ctx.session.get(Campaign, lead.campaign_id) if lead.campaign_id else None,
        owner=ctx.session.get(User, lead.owner_id) if lead.owner_id else None,
        statuses=list(LeadStatus),
        options=options(ctx),
        timeline=service.timeline(ctx.session, lead),
        log_for=("lead_id", lead.id),
    )


@router.post("/leads/{lead_id}/convert", response_model=None)
def convert_lead(request: Request, ctx: UiCtx, lead_id: int, form: Submitted) -> Response:
    check_csrf(request, str(form.get("csrf", "")))
    ctx.require(*WRITERS["leads"])
    contact = leads.convert_to_contact(ctx.session, record_id(lead_id))
    _audit(ctx, "lead.convert", KINDS["leads"], lead_id)
    return _redirect(f"/contacts/{contact.id}", "converted")


# --- Tickets ----------------------------------------------------------------------------------

# (request, ctx, ticket, state) -> (template, values) of a panel on the Ticket's page
TicketPanel = Callable[[Request, Ctx, Ticket, dict[str, Any]], tuple[str, dict[str, Any]]]
_TICKET_PANELS: list[TicketPanel] = []


def add_ticket_panel(panel: TicketPanel) -> None:
    """Let another domain show a panel on each Ticket's page (engage: the conversation)."""
    if panel not in _TICKET_PANELS:
        _TICKET_PANELS.append(panel)


@router.get("/tickets", response_class=HTMLResponse)
def tickets_page(
    request: Request,
    ctx: UiCtx,
    status: Filter = "open",
    queue: Filter = "",
    priority: Filter = "",
    sla_state: Filter = "",
    assignee: Filter = "",
    cursor: Cursor = "",
) -> HTMLResponse:
    now = utcnow()
    filters = tickets.TicketFilters(
        status=TicketStatus(status) if _choice(status, TicketStatus) else None,
        queue=queue or None,
        priority=Priority(priority) if _choice(priority, Priority) else None,
        sla=tickets.SlaState(sla_state) if _choice(sla_state, tickets.SlaState) else None,
        assignee_id=ctx.principal.user_id if assignee == "me" else _ref(assignee),
        unassigned=assignee == "none",
    )
    page = tickets.list_tickets(ctx.session, filters, at=now, limit=50, cursor=cursor or None)
    return render(
        request,
        ctx,
        "crm/tickets.html",
        page=page,
        markers=service.sla_markers(ctx.session, [t.id for t in page.items], now),
        f={
            "status": status,
            "queue": queue,
            "priority": priority,
            "sla_state": sla_state,
            "assignee": assignee,
        },
        statuses=list(TicketStatus),
        priorities=list(Priority),
        sla_states=list(tickets.SlaState),
        queues=tickets.queues(ctx.session),
        options=options(ctx),
        names=_user_names(ctx),
    )


def _user_names(ctx: Ctx) -> dict[int, str]:
    return {int(i): n for i, n in options(ctx)["users"]}


def ticket_page(
    request: Request, ctx: Ctx, ticket_id: int, *, state: dict[str, Any] | None = None
) -> HTMLResponse:
    """A Ticket with its SLA clock, its panels and its timeline; ``state`` is what a panel's
    form was given when it is shown again with an error (status 400)."""
    ticket = service.get(ctx.session, Ticket, record_id(ticket_id))
    now = utcnow()
    state = state or {}
    return render(
        request,
        ctx,
        "crm/ticket.html",
        status=400 if state.get("errors") else 200,
        ticket=ticket,
        marker=sla.marker(
            ticket.first_response_due_at, ticket.first_responded_at, ticket.sla_breached_at, now
        ),
        contact=ctx.session.get(Contact, ticket.contact_id) if ticket.contact_id else None,
        panels=[panel(request, ctx, ticket, state) for panel in _TICKET_PANELS],
        statuses=list(TicketStatus),
        priorities=list(Priority),
        options=options(ctx),
        names=_user_names(ctx),
        timeline=service.timeline(ctx.session, ticket),
        log_for=("ticket_id", ticket.id),
    )


@router.get("/tickets/{ticket_id}", response_class=HTMLResponse)
def ticket_view(request: Request, ctx: UiCtx, ticket_id: int) -> HTMLResponse:
    return ticket_page(request, ctx, ticket_id)


# --- Campaigns --------------------------------------------------------------------------------


@router.get("/campaigns", response_class=HTMLResponse)
def campaigns_page(request: Request, ctx: UiCtx, cursor: Cursor = "") -> HTMLResponse:
    page = service.list_page(ctx.session, Campaign, limit=50, cursor=cursor or None)
    return render(request, ctx, "crm/campaigns.html", page=page)

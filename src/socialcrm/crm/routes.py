"""HTTP API of the CRM records: thin, generated from one table of resources."""

from collections.abc import Callable, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from socialcrm.core import audit
from socialcrm.core.db import MAX_ID, utcnow
from socialcrm.core.principal import Role
from socialcrm.core.web.context import ApiCtx, in_one_thread
from socialcrm.crm import leads, schemas, service, tickets
from socialcrm.crm.models import LeadStatus, Priority, TicketStatus

router = APIRouter(prefix="/api", tags=["crm"])

RecordId = Annotated[int, Path(ge=1, le=MAX_ID)]
FilterId = Annotated[int | None, Query(ge=1, le=MAX_ID)]
Limit = Annotated[int, Query(ge=1, le=service.MAX_LIMIT)]
Cursor = Annotated[str | None, Query(max_length=20)]

# resource -> (create schema, patch schema, output schema, roles that may write)
ALL_ROLES = (Role.ADMIN, Role.MARKETING, Role.AGENT)
SHAPES: dict[str, tuple[type[BaseModel], type[BaseModel], type[BaseModel], tuple[Role, ...]]] = {
    "contacts": (schemas.ContactIn, schemas.ContactPatch, schemas.ContactOut, ALL_ROLES),
    "accounts": (schemas.AccountIn, schemas.AccountPatch, schemas.AccountOut, ALL_ROLES),
    "leads": (schemas.LeadIn, schemas.LeadPatch, schemas.LeadOut, ALL_ROLES),
    "tickets": (schemas.TicketIn, schemas.TicketPatch, schemas.TicketOut, ALL_ROLES),
    "activities": (schemas.ActivityIn, schemas.ActivityPatch, schemas.ActivityOut, ALL_ROLES),
    "campaigns": (
        schemas.CampaignIn,
        schemas.CampaignPatch,
        schemas.CampaignOut,
        (Role.ADMIN, Role.MARKETING),
    ),
}


# How a resource's records are shown, when more than their own columns (a Lead's attribution).
PRESENT: dict[str, Callable[[Session, Sequence[Any]], Sequence[Any]]] = {
    "leads": leads.lead_out,
}
# Resources whose list has filters of its own (registered below the loop).
FILTERED_LISTS = ("leads", "tickets")


def _present(resource: str, session: Session, records: Sequence[Any]) -> Sequence[Any]:
    shape = PRESENT.get(resource)
    return shape(session, records) if shape is not None else records


def _page_model(name: str, item: type[BaseModel]) -> type[BaseModel]:
    from pydantic import create_model

    model: type[BaseModel] = create_model(
        f"{name.title()}Page",
        items=(list[item], ...),  # type: ignore[valid-type]
        next_cursor=(str | None, None),
    )
    return model


def _register(resource: str) -> None:
    create_schema, patch_schema, out_schema, writers = SHAPES[resource]
    model = service.RESOURCES[resource]
    page_schema = _page_model(resource, out_schema)
    singular = "activity" if resource == "activities" else resource.removesuffix("s")

    @router.post(
        f"/{resource}", status_code=201, response_model=out_schema, name=f"create_{singular}"
    )
    def create_record(ctx: ApiCtx, body: create_schema) -> Any:  # type: ignore[valid-type]
        ctx.require(*writers)
        record = service.create(ctx.session, model, body.model_dump())  # type: ignore[attr-defined]
        audit.record(
            ctx.session,
            actor=ctx.principal.actor,
            action=f"{singular}.create",
            target_type=singular,
            target_id=record.id,  # type: ignore[attr-defined]
        )
        return _present(resource, ctx.session, [record])[0]

    PAGES[resource] = page_schema
    if resource not in FILTERED_LISTS:

        @router.get(f"/{resource}", response_model=page_schema, name=f"list_{resource}")
        async def list_records(
            ctx: ApiCtx,
            limit: Limit = 50,
            cursor: Cursor = None,
            q: Annotated[
                str | None,
                Query(max_length=200, description="contacts: a substring, or @handle"),
            ] = None,
        ) -> Any:
            def read(session: Session) -> service.Page:
                return service.list_page(session, model, limit=limit, cursor=cursor, query=q)

            page = await in_one_thread(ctx, read)
            return {"items": page.items, "next_cursor": page.next_cursor}

    @router.get(f"/{resource}/{{record_id}}", response_model=out_schema, name=f"get_{singular}")
    async def get_record(ctx: ApiCtx, record_id: RecordId) -> Any:
        def read(session: Session) -> Any:
            return _present(resource, session, [service.get(session, model, record_id)])[0]

        return await in_one_thread(ctx, read)

    @router.patch(
        f"/{resource}/{{record_id}}", response_model=out_schema, name=f"update_{singular}"
    )
    def update_record(ctx: ApiCtx, record_id: RecordId, body: patch_schema) -> Any:  # type: ignore[valid-type]
        ctx.require(*writers)
        changes = body.model_dump(exclude_unset=True)  # type: ignore[attr-defined]
        record = service.update(ctx.session, model, record_id, changes)
        return _present(resource, ctx.session, [record])[0]

    @router.delete(f"/{resource}/{{record_id}}", status_code=204, name=f"delete_{singular}")
    def delete_record(ctx: ApiCtx, record_id: RecordId) -> Response:
        ctx.require(*writers)
        service.delete(ctx.session, model, record_id)
        audit.record(
            ctx.session,
            actor=ctx.principal.actor,
            action=f"{singular}.delete",
            target_type=singular,
            target_id=record_id,
        )
        return Response(status_code=204)


PAGES: dict[str, type[BaseModel]] = {}
for _resource in SHAPES:
    _register(_resource)


@router.get("/leads", response_model=PAGES["leads"], name="list_leads")
def list_leads(
    ctx: ApiCtx,
    limit: Limit = 50,
    cursor: Cursor = None,
    status: LeadStatus | None = None,
    network: Annotated[str | None, Query(max_length=20, description="source network")] = None,
    owner_id: FilterId = None,
    unassigned: Annotated[bool, Query(description="only Leads nobody owns")] = False,
    campaign_id: FilterId = None,
) -> Any:
    filters = leads.LeadFilters(status, network, owner_id, unassigned, campaign_id)
    page = leads.list_leads(ctx.session, filters, limit=limit, cursor=cursor)
    return {"items": leads.lead_out(ctx.session, page.items), "next_cursor": page.next_cursor}


@router.get("/tickets", response_model=PAGES["tickets"], name="list_tickets")
def list_tickets(
    ctx: ApiCtx,
    limit: Limit = 50,
    cursor: Cursor = None,
    status: TicketStatus | None = None,
    queue: Annotated[str | None, Query(max_length=80)] = None,
    priority: Priority | None = None,
    sla: Annotated[tickets.SlaState | None, Query(description="first-response SLA")] = None,
    assignee_id: FilterId = None,
    unassigned: Annotated[bool, Query(description="only Tickets nobody is assigned")] = False,
) -> Any:
    filters = tickets.TicketFilters(status, queue, priority, sla, assignee_id, unassigned)
    page = tickets.list_tickets(ctx.session, filters, at=utcnow(), limit=limit, cursor=cursor)
    return {"items": page.items, "next_cursor": page.next_cursor}

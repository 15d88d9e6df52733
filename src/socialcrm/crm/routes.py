"""HTTP API of the CRM records: thin, generated from one table of resources."""

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel

from socialcrm.core import audit
from socialcrm.core.db import MAX_ID
from socialcrm.crm import schemas, service
from socialcrm.tenancy.models import Role
from socialcrm.web.deps import ApiCtx

router = APIRouter(prefix="/api", tags=["crm"])

RecordId = Annotated[int, Path(ge=1, le=MAX_ID)]

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
        return record

    @router.get(f"/{resource}", response_model=page_schema, name=f"list_{resource}")
    def list_records(
        ctx: ApiCtx,
        limit: Annotated[int, Query(ge=1, le=service.MAX_LIMIT)] = 50,
        cursor: Annotated[str | None, Query(max_length=20)] = None,
        q: Annotated[str | None, Query(max_length=200)] = None,
    ) -> Any:
        page = service.list_page(ctx.session, model, limit=limit, cursor=cursor, query=q)
        return {"items": page.items, "next_cursor": page.next_cursor}

    @router.get(f"/{resource}/{{record_id}}", response_model=out_schema, name=f"get_{singular}")
    def get_record(ctx: ApiCtx, record_id: RecordId) -> Any:
        return service.get(ctx.session, model, record_id)

    @router.patch(
        f"/{resource}/{{record_id}}", response_model=out_schema, name=f"update_{singular}"
    )
    def update_record(ctx: ApiCtx, record_id: RecordId, body: patch_schema) -> Any:  # type: ignore[valid-type]
        ctx.require(*writers)
        changes = body.model_dump(exclude_unset=True)  # type: ignore[attr-defined]
        return service.update(ctx.session, model, record_id, changes)

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


for _resource in SHAPES:
    _register(_resource)

"""HTTP API of engagement (thin)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Response

from socialcrm.core.db import MAX_ID, get_database
from socialcrm.core.errors import ValidationFailed
from socialcrm.core.web.context import ApiCtx
from socialcrm.engage import service
from socialcrm.engage.schemas import FirstResponseOut, MessageIn, MessageOut, UsableAccount

router = APIRouter(prefix="/api/engage", tags=["engage"])
RecordId = Annotated[int, Path(ge=1, le=MAX_ID)]
OptionalId = Annotated[int | None, Query(ge=1, le=MAX_ID)]


@router.post("/messages", status_code=201, response_model=MessageOut)
def send_message(
    ctx: ApiCtx,
    body: MessageIn,
    response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=100)] = None,
) -> Any:
    """201 when sent (or failed) now; 200 with the first outcome when the key was seen."""
    key = body.idempotency_key or idempotency_key
    if not key or len(key) < 8:
        raise ValidationFailed("send an Idempotency-Key header (8 to 100 characters)")
    request = service.SendRequest(
        kind=body.kind,
        account_id=body.account_id,
        text=body.text,
        idempotency_key=key,
        in_reply_to_id=body.in_reply_to_id,
        recipient=body.recipient,
        conversation_id=body.conversation_id,
        mention_id=body.mention_id,
        contact_id=body.contact_id,
        lead_id=body.lead_id,
        ticket_id=body.ticket_id,
    )
    sent = service.send(get_database(), ctx.principal, request)
    if sent.replayed:
        response.status_code = 200
    return sent.message


@router.get("/messages", response_model=list[MessageOut])
def list_messages(
    ctx: ApiCtx,
    contact_id: OptionalId = None,
    ticket_id: OptionalId = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Any:
    return service.list_messages(
        ctx.session, contact_id=contact_id, ticket_id=ticket_id, limit=limit
    )


@router.get("/messages/{message_id}", response_model=MessageOut)
def get_message(ctx: ApiCtx, message_id: RecordId) -> Any:
    return service.get_message(ctx.session, message_id)


@router.get("/accounts", response_model=list[UsableAccount])
def usable_accounts(ctx: ApiCtx) -> Any:
    """The connected accounts the caller may reply or DM from."""
    return service.usable_accounts(ctx.session, ctx.principal)


@router.get("/threads")
def thread(
    ctx: ApiCtx,
    network: Annotated[str, Query(max_length=20)],
    conversation_id: Annotated[str, Query(max_length=300)],
) -> list[dict[str, Any]]:
    return service.thread(ctx.session, network, conversation_id)


@router.get("/tickets/{ticket_id}/first-response", response_model=FirstResponseOut)
def ticket_first_response(ctx: ApiCtx, ticket_id: RecordId) -> FirstResponseOut:
    found = service.first_response(ctx.session, ticket_id)
    return FirstResponseOut(
        ticket_id=ticket_id,
        responded_at=found.responded_at if found else None,
        message_id=found.message_id if found else None,
    )

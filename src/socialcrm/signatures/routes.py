"""HTTP API: email intake, enrichment of Contacts and tickets, IMAP mailboxes. Thin."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from starlette.exceptions import HTTPException

from socialcrm.core.db import MAX_ID
from socialcrm.core.principal import Role
from socialcrm.core.queue import enqueue_after_commit
from socialcrm.core.web.context import ApiCtx
from socialcrm.signatures import inbox, intake, mailboxes, policy, schemas, suggestions, tasks

router = APIRouter(prefix="/api", tags=["email enrichment"])

RecordId = Annotated[int, Path(ge=1, le=MAX_ID)]
MAX_MESSAGE_BYTES = 25 * 1024 * 1024
RFC822_TYPES = ("message/rfc822", "message/global")


async def raw_message(request: Request) -> bytes:
    """The request body, refused early when it is not a message or too large."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in RFC822_TYPES:
        raise HTTPException(415, "send the raw message with Content-Type: message/rfc822")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_MESSAGE_BYTES:
        raise HTTPException(413, f"a message may have at most {MAX_MESSAGE_BYTES} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_MESSAGE_BYTES:
            raise HTTPException(413, f"a message may have at most {MAX_MESSAGE_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


RawMessage = Annotated[bytes, Depends(raw_message)]


@router.post(
    "/emails",
    status_code=201,
    response_model=schemas.EmailOut,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"message/rfc822": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
def receive_email(
    ctx: ApiCtx,
    raw: RawMessage,
    response: Response,
    create_ticket: Annotated[bool, Query()] = False,
) -> Any:
    """Take in one raw RFC 822 message; 200 with the stored one if it was seen before."""
    result = intake.ingest(
        ctx.session, ctx.principal.tenant_id, raw, source="api", create_ticket=create_ticket
    )
    if not result.created:
        response.status_code = 200
    return result.email


@router.get("/emails", response_model=schemas.EmailPage)
def list_emails(
    ctx: ApiCtx,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=20)] = None,
    ticket_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    failed: Annotated[bool | None, Query(description="only failed (or only read) ones")] = None,
) -> Any:
    items, next_cursor = inbox.list_emails(
        ctx.session, limit=limit, cursor=cursor, ticket_id=ticket_id, failed=failed
    )
    return {"items": items, "next_cursor": next_cursor}


@router.get("/emails/{email_id}", response_model=schemas.EmailOut)
def get_email(ctx: ApiCtx, email_id: RecordId) -> Any:
    return inbox.get_email(ctx.session, email_id)


@router.get("/emails/{email_id}/enrichment")
def email_enrichment(ctx: ApiCtx, email_id: RecordId) -> dict[str, Any]:
    return suggestions.email_enrichment(ctx.session, email_id)


@router.post("/emails/{email_id}/participants/connect", status_code=201)
def connect_participant(ctx: ApiCtx, email_id: RecordId, body: schemas.ConnectIn) -> dict[str, Any]:
    """Create a Contact for an unknown address, or add the address to an existing Contact."""
    contact = suggestions.connect_participant(
        ctx.session,
        email_id,
        body.address,
        contact_id=body.contact_id,
        create=body.create,
        name=body.name,
        actor=ctx.principal.actor,
    )
    return {"contact_id": contact.id, **suggestions.contact_enrichment(ctx.session, contact.id)}


@router.get("/contacts/{contact_id}/enrichment")
def contact_enrichment(ctx: ApiCtx, contact_id: RecordId) -> dict[str, Any]:
    """Pending values with their source emails, values enriched before, and completeness."""
    return suggestions.contact_enrichment(ctx.session, contact_id)


@router.post("/contacts/{contact_id}/enrichment/apply")
def apply_enrichment(ctx: ApiCtx, contact_id: RecordId, body: schemas.ApplyIn) -> dict[str, Any]:
    return suggestions.apply(
        ctx.session,
        contact_id,
        accept=body.accept,
        reject=body.reject,
        actor=ctx.principal.actor,
    )


@router.get("/tickets/{ticket_id}/enrichment")
def ticket_enrichment(ctx: ApiCtx, ticket_id: RecordId) -> dict[str, Any]:
    return suggestions.ticket_enrichment(ctx.session, ticket_id)


@router.get("/email-settings", response_model=schemas.EmailSettingsOut)
def get_email_settings(ctx: ApiCtx) -> Any:
    return policy.get_settings(ctx.session, ctx.principal.tenant_id)


@router.put("/email-settings", response_model=schemas.EmailSettingsOut)
def put_email_settings(ctx: ApiCtx, body: schemas.EmailSettingsIn) -> Any:
    return policy.change_settings(ctx.session, ctx.principal, body.model_dump(exclude_unset=True))


@router.post("/imap-accounts", status_code=201, response_model=schemas.ImapAccountOut)
def create_imap_account(ctx: ApiCtx, body: schemas.ImapAccountIn) -> Any:
    return mailboxes.connect_mailbox(ctx.session, ctx.principal, body.model_dump())


@router.get("/imap-accounts", response_model=list[schemas.ImapAccountOut])
def list_imap_accounts(ctx: ApiCtx) -> Any:
    return mailboxes.list_imap_accounts(
        ctx.session, user_id=ctx.principal.user_id, admin=ctx.principal.role == Role.ADMIN
    )


@router.delete("/imap-accounts/{account_id}", status_code=204)
def delete_imap_account(ctx: ApiCtx, account_id: RecordId) -> Response:
    mailboxes.delete_imap_account(ctx.session, ctx.principal, account_id)
    return Response(status_code=204)


@router.post("/imap-accounts/{account_id}/sync", status_code=202)
def sync_imap_account(ctx: ApiCtx, account_id: RecordId) -> dict[str, Any]:
    """Queue a sync now (it also runs every few minutes)."""
    account = mailboxes.get_imap_account(
        ctx.session,
        account_id,
        user_id=ctx.principal.user_id,
        admin=ctx.principal.role == Role.ADMIN,
    )
    enqueue_after_commit(ctx.session, tasks.sync_mailbox, account.id)
    return {"queued": True, "account_id": account.id}

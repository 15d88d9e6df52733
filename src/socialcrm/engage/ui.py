"""UI of engagement: the reply / DM box on a Contact's page, and a Ticket's conversation with
its reply box (a panel of the Ticket's page)."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from socialcrm.core.db import MAX_ID, get_database
from socialcrm.core.errors import AppError, NotFound
from socialcrm.core.numbers import is_ascii_number
from socialcrm.core.principal import Principal, Role
from socialcrm.core.web.context import Ctx, UiCtx
from socialcrm.core.web.csrf import CsrfField, check_csrf
from socialcrm.core.web.render import templates
from socialcrm.crm.models import Ticket
from socialcrm.crm.ui import add_ticket_panel, contact_view, record_id, ticket_page
from socialcrm.engage import service
from socialcrm.engage.models import MessageKind, OutboundMessage
from socialcrm.tenancy.models import User

router = APIRouter()


def engage_box(user: User | None, contact: Any, sent: str = "") -> dict[str, Any]:
    """What the Contact page's reply/DM box shows: usable accounts, this contact's messages,
    the outcome of the message the page was sent back with (``?sent=<id>``, read from the
    database, never text from the address), and a fresh idempotency key (one per rendered
    form, so a double submit sends once)."""
    if user is None:
        return {"accounts": [], "messages": [], "key": "", "outcome": ""}
    principal = Principal(tenant_id=user.tenant_id, role=Role(user.role), user_id=user.id)
    with get_database().session(tenant_id=user.tenant_id) as session:
        accounts = [
            {"id": a.id, "label": f"{a.provider} @{a.handle} ({a.ownership})"}
            for a in service.usable_accounts(session, principal)
        ]
        messages = [
            {
                "kind": m.kind,
                "network": m.network,
                "text": m.text,
                "status": m.status,
                "url": m.url,
                "error": m.error,
                "at": m.created_at.strftime("%Y-%m-%d %H:%M"),
            }
            for m in service.list_messages(session, contact_id=contact.id, limit=20)
        ]
        outcome = _outcome(session, sent, contact.id)
    return {
        "accounts": accounts,
        "messages": messages,
        "key": secrets.token_urlsafe(16),
        "outcome": outcome,
    }


def _outcome(session: Any, sent: str, contact_id: int) -> str:
    if not is_ascii_number(sent) or not 1 <= int(sent[:11]) <= MAX_ID:
        return ""
    try:
        message = service.get_message(session, int(sent))
    except NotFound:
        return ""
    if message.contact_id != contact_id:
        return ""
    notice = f"{message.kind} {message.status}"
    return f"{notice}: {message.error}" if message.error else notice


templates.env.globals["engage_box"] = engage_box


@router.post("/contacts/{contact_id}/engage", response_model=None)
def send_from_contact(
    request: Request,
    ctx: UiCtx,
    contact_id: int,
    csrf: CsrfField,
    kind: Annotated[MessageKind, Form()],
    account_id: Annotated[int, Form(ge=1, le=MAX_ID)],
    text: Annotated[str, Form(max_length=20_000)],
    idempotency_key: Annotated[str, Form(min_length=8, max_length=100)],
    target: Annotated[str, Form(max_length=320)] = "",
) -> Response:
    check_csrf(request, csrf)
    request_ = service.SendRequest(
        kind=kind,
        account_id=account_id,
        text=text,
        idempotency_key=idempotency_key,
        in_reply_to_id="" if kind == MessageKind.DM else target.strip(),
        recipient=target.strip().lstrip("@") if kind == MessageKind.DM else "",
        contact_id=contact_id,
    )
    try:
        sent = service.send(get_database(), ctx.principal, request_)
    except AppError as exc:
        if isinstance(exc, NotFound):
            raise
        typed = {"account_id": str(account_id), "kind": kind.value, "target": target, "text": text}
        return contact_view(
            request, ctx, contact_id, status=400, engage_error=exc.message, engage_form=typed
        )
    return RedirectResponse(
        f"/contacts/{contact_id}?sent={sent.message.id}#engage", status_code=303
    )


# --- a Ticket's conversation ---------------------------------------------------------------


def ticket_conversation(
    request: Request, ctx: Ctx, ticket: Ticket, state: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """The Ticket page's conversation panel: the thread, the outcome of the last reply, and
    the reply box (answering the latest inbound message, from the account it came to)."""
    thread = service.ticket_thread(ctx.session, ticket.id)
    inbound = [item for item in thread if item["direction"] == "inbound"]
    accounts = service.usable_accounts(ctx.session, ctx.principal)
    usable = {a.id for a in accounts}
    latest = inbound[-1] if inbound else None
    came_to = latest["account_id"] if latest and latest["account_id"] in usable else None
    values = state.get("values") or {
        "mention_id": str(latest["mention_id"]) if latest else "",
        "account_id": str(came_to or (accounts[0].id if accounts else "")),
        "text": "",
    }
    return "engage/ticket_thread.html", {
        "thread": thread,
        "inbound": inbound,
        "accounts": [(str(a.id), f"{a.provider} @{a.handle}") for a in accounts],
        "form": values,
        "errors": state.get("errors") or {},
        "outcome": _reply_outcome(ctx, request.query_params.get("reply", "")),
        "key": secrets.token_urlsafe(16),
    }


def _reply_outcome(ctx: Ctx, message_id: str) -> OutboundMessage | None:
    """The reply the page was sent back with (read from the database, not the address)."""
    if not is_ascii_number(message_id) or not 1 <= int(message_id[:11]) <= MAX_ID:
        return None
    try:
        return service.get_message(ctx.session, int(message_id))
    except NotFound:
        return None


add_ticket_panel(ticket_conversation)


def _reply_field(details: dict[str, Any]) -> str:
    """Which field of the reply box a refusal is about."""
    if "field" in details:
        return str(details["field"])
    return "account_id" if "account_id" in details else "text"


@router.post("/tickets/{ticket_id}/reply", response_model=None)
def reply_from_ticket(
    request: Request,
    ctx: UiCtx,
    ticket_id: int,
    csrf: CsrfField,
    idempotency_key: Annotated[str, Form(min_length=8, max_length=100)],
    text: Annotated[str, Form(max_length=20_000)] = "",
    mention_id: Annotated[str, Form(max_length=12)] = "",
    account_id: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    check_csrf(request, csrf)
    values = {"mention_id": mention_id, "account_id": account_id, "text": text}
    try:
        sent = service.reply_to_ticket(
            get_database(),
            ctx.principal,
            record_id(ticket_id),
            mention_id=int(mention_id) if is_ascii_number(mention_id) else 0,
            account_id=int(account_id) if is_ascii_number(account_id) else 0,
            text=text,
            idempotency_key=idempotency_key,
        )
    except AppError as exc:
        if isinstance(exc, NotFound):
            raise
        errors = {_reply_field(exc.details): exc.message}
        return ticket_page(request, ctx, ticket_id, state={"values": values, "errors": errors})
    return RedirectResponse(
        f"/tickets/{ticket_id}?reply={sent.message.id}#conversation", status_code=303
    )

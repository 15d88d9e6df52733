"""UI of engagement: the reply / DM box on a Contact's page."""

from __future__ import annotations

import secrets
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from socialcrm.core.db import MAX_ID, get_database
from socialcrm.core.errors import AppError
from socialcrm.engage import service
from socialcrm.engage.models import MessageKind
from socialcrm.tenancy.models import Role, User
from socialcrm.tenancy.service import Principal
from socialcrm.web.ui import CsrfField, UiCtx, _check_csrf, templates

router = APIRouter()


def engage_box(user: User | None, contact: Any) -> dict[str, Any]:
    """What the Contact page's reply/DM box shows: usable accounts, this contact's messages,
    and a fresh idempotency key (one per rendered form, so a double submit sends once)."""
    if user is None:
        return {"accounts": [], "messages": [], "key": ""}
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
    return {"accounts": accounts, "messages": messages, "key": secrets.token_urlsafe(16)}


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
) -> RedirectResponse:
    _check_csrf(request, csrf)
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
        notice = f"{kind.value} {sent.message.status}"
        if sent.message.error:
            notice += f": {sent.message.error}"
    except AppError as exc:
        notice = f"not sent: {exc.message}"
    return RedirectResponse(
        f"/contacts/{contact_id}?engage={quote(notice[:300])}#engage", status_code=303
    )

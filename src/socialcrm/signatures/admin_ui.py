"""Admin area: the email settings and the IMAP mailboxes the tenant's mail is read from."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Request
from fastapi.responses import Response, StreamingResponse

from socialcrm.core.db import MAX_ID, get_database
from socialcrm.core.queue import enqueue_after_commit
from socialcrm.core.web import sse
from socialcrm.core.web.context import AdminCtx, Ctx
from socialcrm.core.web.csrf import CsrfField, check_csrf
from socialcrm.core.web.forms import FormState, SettingsForm, attempt, checked, done, read_form
from socialcrm.signatures import mailboxes, policy, tasks
from socialcrm.signatures.models import ImapSecurity
from socialcrm.signatures.schemas import EmailSettingsIn, ImapAccountIn

PATH = "/admin/email"
NEW_MAILBOX = {"port": "993", "security": ImapSecurity.SSL.value, "mailbox": "INBOX"}
NOTICES = {
    "mailbox-added": "Mailbox added: it is read every few minutes from now on.",
    "mailbox-deleted": "Mailbox deleted: it is no longer read (its imported emails stay).",
    "mailbox-sync": "Sync started: the mailbox's state below changes as it runs.",
}


def _current(ctx: Ctx) -> dict[str, Any]:
    settings = policy.get_settings(ctx.session, ctx.principal.tenant_id)
    return {
        "default_region": settings.default_region,
        "default_phone_type": settings.default_phone_type,
        "auto_create_contacts": settings.auto_create_contacts,
        "mining_enabled": settings.mining_enabled,
    }


def _save(ctx: Ctx, form: dict[str, Any]) -> object:
    body = EmailSettingsIn.model_validate(
        {
            "default_region": form.get("default_region", ""),
            "default_phone_type": form.get("default_phone_type", ""),
            "auto_create_contacts": checked(form, "auto_create_contacts"),
            "mining_enabled": checked(form, "mining_enabled"),
        }
    )
    return policy.change_settings(ctx.session, ctx.principal, body.model_dump(exclude_unset=True))


def _mailboxes(ctx: Ctx) -> dict[str, Any]:
    boxes = mailboxes.list_imap_accounts(ctx.session, user_id=ctx.principal.user_id, admin=True)
    return {
        "mailboxes": boxes,
        "intake": mailboxes.mailbox_intake(ctx.session, [b.id for b in boxes]),
        "no_intake": mailboxes.MailboxIntake(),
        "securities": [(s.value, s.value.upper()) for s in ImapSecurity],
        "mailbox": FormState(dict(NEW_MAILBOX)),
    }


FORM = SettingsForm(
    PATH,
    "admin/email.html",
    _current,
    _save,
    "Email settings saved.",
    more=_mailboxes,
    notices=NOTICES,
)
router = FORM.router()


@router.post(PATH + "/mailboxes", response_model=None)
async def add_mailbox(request: Request, ctx: AdminCtx) -> Response:
    form = await read_form(request)
    failed = attempt(
        ctx,
        form,
        lambda: mailboxes.connect_mailbox(
            ctx.session, ctx.principal, ImapAccountIn.model_validate(form).model_dump()
        ),
    )
    if failed:
        failed.values.pop("password", None)  # never sent back to the browser
        return FORM.page(request, ctx, mailbox=failed)
    return done(PATH, "mailbox-added")


@router.post(PATH + "/mailboxes/{account_id}/delete", response_model=None)
def delete_mailbox(
    request: Request,
    ctx: AdminCtx,
    account_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    csrf: CsrfField,
) -> Response:
    check_csrf(request, csrf)
    mailboxes.delete_imap_account(ctx.session, ctx.principal, account_id)
    return done(PATH, "mailbox-deleted")


@router.post(PATH + "/mailboxes/{account_id}/sync", response_model=None)
def sync_mailbox(
    request: Request,
    ctx: AdminCtx,
    account_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    csrf: CsrfField,
) -> Response:
    """Read the mailbox now (a retry after a failed sync; it also runs every few minutes)."""
    check_csrf(request, csrf)
    account = mailboxes.get_imap_account(
        ctx.session, account_id, user_id=ctx.principal.user_id, admin=True
    )
    enqueue_after_commit(ctx.session, tasks.sync_mailbox, account.id)
    return done(PATH, "mailbox-sync")


@router.get(PATH + "/mailboxes/events", response_class=StreamingResponse)
def mailbox_events(request: Request, ctx: AdminCtx) -> StreamingResponse:
    """Server-sent events while the page is open: the mailboxes' syncs, last read, messages
    imported and failed, whenever they change."""
    tenant_id, user_id = ctx.principal.tenant_id, ctx.principal.user_id

    def read() -> dict[str, Any]:
        with get_database().session(tenant_id=tenant_id) as session:
            return mailboxes.mailboxes_state(session, user_id=user_id, admin=True)

    return sse.stream_response(sse.state_events(read, sse.never, request=request))

"""UI of company Accounts: the list, and each Account with the profiles found on its website."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from socialcrm.core.db import MAX_ID
from socialcrm.core.errors import NotFound
from socialcrm.core.web.context import UiCtx
from socialcrm.core.web.csrf import CsrfField, check_csrf
from socialcrm.core.web.notices import shown, with_notice
from socialcrm.core.web.render import render
from socialcrm.crm import service as crm
from socialcrm.crm.models import Account
from socialcrm.discovery import accounts
from socialcrm.discovery.models import SuggestionStatus

router = APIRouter()


def _known_id(kind: str, record_id: int) -> int:
    """An id no row can have is simply not found (a 404 page, never a database error)."""
    if not 1 <= record_id <= MAX_ID:
        raise NotFound(f"{kind} {record_id} not found")
    return record_id


@router.get("/accounts", response_class=HTMLResponse)
def accounts_page(
    request: Request, ctx: UiCtx, cursor: Annotated[str, Query(max_length=20)] = ""
) -> HTMLResponse:
    page = crm.list_page(ctx.session, Account, limit=50, cursor=cursor or None)
    pending = accounts.pending_counts(ctx.session, [a.id for a in page.items])
    return render(request, ctx, "accounts.html", page=page, pending=pending)


@router.get("/accounts/{account_id}", response_class=HTMLResponse)
def account_page(
    request: Request,
    ctx: UiCtx,
    account_id: int,
) -> HTMLResponse:
    account = crm.get(ctx.session, Account, _known_id("account", account_id))
    found = accounts.suggestions(ctx.session, account.id)
    return render(
        request,
        ctx,
        "account.html",
        account=account,
        accepted=[s for s in found if s.status == SuggestionStatus.ACCEPTED],
        pending=[s for s in found if s.status == SuggestionStatus.SUGGESTED],
        rejected=sum(1 for s in found if s.status == SuggestionStatus.REJECTED),
        run=accounts.last_run(ctx.session, account.id),
        notice=shown(request),
        timeline=crm.timeline(ctx.session, account),
        log_for=None,  # an Activity is logged on one of the Account's Contacts
    )


DECISIONS = {
    "accept": (True, "Profile accepted."),
    "reject": (False, "Suggestion rejected; it will not be suggested again."),
}


@router.post(
    "/accounts/{account_id}/profile-suggestions/{suggestion_id}/{action}", response_model=None
)
def decide(
    request: Request,
    ctx: UiCtx,
    account_id: int,
    suggestion_id: int,
    action: str,
    csrf: CsrfField,
) -> Response:
    check_csrf(request, csrf)
    if action not in DECISIONS:
        return render(request, ctx, "error.html", status=404, title="Not found", message="")
    accept, notice = DECISIONS[action]
    accounts.decide(
        ctx.session,
        ctx.principal,
        _known_id("account", account_id),
        _known_id("suggestion", suggestion_id),
        accept=accept,
    )
    return RedirectResponse(with_notice(f"/accounts/{account_id}", notice), status_code=303)

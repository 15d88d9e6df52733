"""HTTP API of Accounts' profile suggestions (found on the Account's website)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from socialcrm.core.db import MAX_ID
from socialcrm.core.web.context import ApiCtx
from socialcrm.crm.models import Account
from socialcrm.discovery import accounts, tasks
from socialcrm.discovery.schemas import AccountProfilesOut, SuggestionOut

router = APIRouter(prefix="/api/accounts", tags=["accounts"])
Id = Annotated[int, Path(ge=1, le=MAX_ID)]


@router.get("/{account_id}/profile-suggestions", response_model=AccountProfilesOut)
def account_profiles(ctx: ApiCtx, account_id: Id) -> dict[str, Any]:
    found = accounts.suggestions(ctx.session, account_id)
    run = accounts.last_run(ctx.session, account_id)
    return {
        "account_id": account_id,
        "last_run_at": run.ran_at.isoformat() if run else None,
        "last_failure": (run.failure or None) if run else None,
        "suggestions": [SuggestionOut.model_validate(s) for s in found],
    }


@router.post(
    "/{account_id}/profile-suggestions/{suggestion_id}/accept", response_model=SuggestionOut
)
def accept(ctx: ApiCtx, account_id: Id, suggestion_id: Id) -> Any:
    return accounts.decide(ctx.session, ctx.principal, account_id, suggestion_id, accept=True)


@router.post(
    "/{account_id}/profile-suggestions/{suggestion_id}/reject", response_model=SuggestionOut
)
def reject(ctx: ApiCtx, account_id: Id, suggestion_id: Id) -> Any:
    return accounts.decide(ctx.session, ctx.principal, account_id, suggestion_id, accept=False)


@router.post("/{account_id}/discover", status_code=202)
def discover_now(ctx: ApiCtx, account_id: Id) -> dict[str, Any]:
    """Read the Account's website again now (queued)."""
    accounts.suggestions(ctx.session, account_id)  # 404 for an unknown account
    from socialcrm.core.queue import enqueue_after_commit

    account = ctx.session.get(Account, account_id)
    assert account is not None
    enqueue_after_commit(ctx.session, tasks.discover_account, account.tenant_id, account_id)
    return {"account_id": account_id, "queued": True}

"""The notifications centre: a person's notices, read/unread, dismiss, open the thing.

The notices themselves live in ``core.notify`` (where every domain writes them); this is only
their page. It sits in ``web`` (the HTTP edge) because core holds no pages, and a notice links
to any domain's page.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from socialcrm.core import notify
from socialcrm.core.db import MAX_ID
from socialcrm.core.principal import Role
from socialcrm.core.settings import get_settings
from socialcrm.core.web.context import Ctx, UiCtx, safe_next
from socialcrm.core.web.csrf import CsrfField, check_csrf
from socialcrm.core.web.forms import choice, done
from socialcrm.core.web.render import render

router = APIRouter()

NoteId = Annotated[int, Path(ge=1, le=MAX_ID)]
Show = Literal["all", "unread"]
NOTICES = {
    "read": "Marked as read.",
    "unread": "Marked as unread.",
    "dismissed": "Notification dismissed.",
    "all-read": "Every notification is marked as read.",
}


def _who(ctx: Ctx) -> tuple[int, bool]:
    return ctx.principal.user_id or 0, ctx.principal.role == Role.ADMIN


def _back(show: str, code: str) -> RedirectResponse:
    return done(f"/notifications?show={'unread' if show == 'unread' else 'all'}", code)


@router.get("/notifications", response_class=HTMLResponse)
def notifications_page(
    request: Request,
    ctx: UiCtx,
    show: Annotated[Show, Query()] = "all",
    cursor: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    code: Annotated[str, Query(alias="done", max_length=20)] = "",
) -> HTMLResponse:
    user_id, admin = _who(ctx)
    page = notify.list_page(
        ctx.session, user_id, is_admin=admin, unread_only=show == "unread", after=cursor
    )
    return render(
        request,
        ctx,
        "notifications.html",
        page=page,
        show=show,
        notice=choice(NOTICES, code),
        max_age_days=get_settings().notification_max_age_days,
    )


@router.post("/notifications/read-all")
def read_all(
    request: Request, ctx: UiCtx, csrf: CsrfField, show: Annotated[str, Query()] = "all"
) -> RedirectResponse:
    check_csrf(request, csrf)
    user_id, admin = _who(ctx)
    notify.mark_all_read(ctx.session, user_id, is_admin=admin)
    return _back(show, "all-read")


@router.post("/notifications/{note_id}/open")
def open_notice(request: Request, ctx: UiCtx, note_id: NoteId, csrf: CsrfField) -> RedirectResponse:
    """Go to the thing the notice is about; the notice counts as read."""
    check_csrf(request, csrf)
    user_id, admin = _who(ctx)
    note = notify.mark_read(ctx.session, note_id, user_id, is_admin=admin)
    return RedirectResponse(safe_next(note.link or "/notifications"), status_code=303)


@router.post("/notifications/{note_id}/{action}")
def change(
    request: Request,
    ctx: UiCtx,
    note_id: NoteId,
    action: Literal["read", "unread", "dismiss"],
    csrf: CsrfField,
    show: Annotated[str, Query()] = "all",
) -> RedirectResponse:
    """Mark one notice read or unread, or dismiss it (it is deleted)."""
    check_csrf(request, csrf)
    user_id, admin = _who(ctx)
    if action == "dismiss":
        notify.dismiss(ctx.session, note_id, user_id, is_admin=admin)
        return _back(show, "dismissed")
    notify.mark_read(ctx.session, note_id, user_id, is_admin=admin, read=action == "read")
    return _back(show, action)

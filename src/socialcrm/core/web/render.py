"""Server-rendered pages: the templates (``core/web/templates``), their filters, and ``render``,
which adds what every page shows (the CSRF token, who is logged in, the unread notices)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from socialcrm.core import notify
from socialcrm.core.principal import Role
from socialcrm.core.web.context import Ctx, authenticator
from socialcrm.core.web.csrf import csrf_token

WEB_DIR = Path(__file__).parent
STATIC_DIR = WEB_DIR / "static"
templates = Jinja2Templates(directory=WEB_DIR / "templates")


def web_href(url: object) -> str:
    """An outside address fit for ``href``: http(s) only. Profile links, post URLs and
    websites come from users and from networks; a ``javascript:`` one must never be a link."""
    text = str(url or "").strip()
    return text if text.lower().startswith(("http://", "https://")) else ""


def ago(moment: object) -> str:
    """How long ago, as a person says it ("5 min ago", "3 h ago", "2 days ago")."""
    if not isinstance(moment, datetime):
        return ""
    then = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    seconds = max(0, int((datetime.now(UTC) - then).total_seconds()))
    for size, unit in ((86_400, "day"), (3_600, "h"), (60, "min")):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if unit == 'day' and count > 1 else ''} ago"
    return "just now"


templates.env.filters["web_href"] = web_href
templates.env.filters["ago"] = ago


def render(
    request: Request, ctx: Ctx | None, name: str, status: int = 200, **values: Any
) -> HTMLResponse:
    common: dict[str, Any] = {
        "csrf": csrf_token(request),
        "user": None,
        "tenant": None,
        "unread_count": 0,
    }
    if ctx is not None:
        common["user"], common["tenant"] = authenticator(request).page_header(
            ctx.session, ctx.principal
        )
        # The navigation's indicator; the notices themselves wait in /notifications.
        common["unread_count"] = notify.unread_count(
            ctx.session, ctx.principal.user_id or 0, is_admin=ctx.principal.role == Role.ADMIN
        )
    return templates.TemplateResponse(request, name, {**common, **values}, status_code=status)

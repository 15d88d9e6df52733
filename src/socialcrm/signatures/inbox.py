"""The received emails as stored: one by id, the list (newest first), and what changes the list."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from socialcrm.core.errors import NotFound
from socialcrm.core.numbers import parse_cursor
from socialcrm.signatures.models import (
    ReceivedEmail,
)


def get_email(session: Session, email_id: int) -> ReceivedEmail:
    email = session.get(ReceivedEmail, email_id)
    if email is None:
        raise NotFound(f"email {email_id} not found")
    return email


def list_emails(
    session: Session,
    *,
    limit: int,
    cursor: str | None,
    ticket_id: int | None = None,
    failed: bool | None = None,
) -> tuple[list[ReceivedEmail], str | None]:
    """Newest first; ``failed`` keeps only the messages that could (not) be read."""
    stmt = select(ReceivedEmail).order_by(ReceivedEmail.id.desc()).limit(limit + 1)
    after = parse_cursor(cursor)
    if after is not None:
        stmt = stmt.where(ReceivedEmail.id < after)
    if ticket_id is not None:
        stmt = stmt.where(ReceivedEmail.ticket_id == ticket_id)
    if failed is not None:
        stmt = stmt.where(ReceivedEmail.error != "" if failed else ReceivedEmail.error == "")
    rows = list(session.scalars(stmt))
    next_cursor = str(rows[limit - 1].id) if len(rows) > limit else None
    return rows[:limit], next_cursor


def emails_state(session: Session) -> dict[str, Any]:
    """What changes the emails list on its own (an import, a mailbox sync), for its stream."""
    latest, count = session.execute(select(func.max(ReceivedEmail.id), func.count())).one()
    return {"latest": latest, "count": int(count or 0)}

"""In-app notifications: how a person learns that something needs them (e.g. reconnect).

A notice is for one user, or (``user_id`` None) for every admin of the tenant. It may name
the thing it is about (``subject_type``/``subject_id``, e.g. ``social_account``/``7``).

Stale notices clear themselves, in two ways:

- **resolved**: when the thing a notice is about is put right, the domain that puts it right
  calls :func:`resolve` and the notices about it are deleted (an account reconnected or
  disconnected clears its "needs reconnecting" notice; a Ticket's first response clears its
  "first response overdue" notice);
- **old**: a notice older than ``SOCIALCRM_NOTIFICATION_MAX_AGE_DAYS`` (30 days) is no longer
  listed or counted, and the daily :func:`clear_stale` deletes it.

Read state is per notice: an admin who reads a notice addressed to every admin reads it for
all of them, as a shared inbox does; dismissing deletes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, ForeignKey, Index, String, delete, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from socialcrm.core.db import Base, TenantScoped, utcnow
from socialcrm.core.errors import NotFound
from socialcrm.core.settings import get_settings


class Notification(TenantScoped, Base):
    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_subject", "subject_type", "subject_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True, default=None
    )  # None: every admin of the tenant
    kind: Mapped[str] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(String(500))
    link: Mapped[str] = mapped_column(String(300), default="")
    subject_type: Mapped[str | None] = mapped_column(String(40), default=None)
    subject_id: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(default=None)


@dataclass(frozen=True, slots=True)
class Subject:
    """The thing a notice is about: ``Subject("ticket", 42)``."""

    type: str
    id: object


@dataclass(frozen=True, slots=True)
class NotificationPage:
    items: Sequence[Notification]
    next_cursor: str | None


def notify(
    session: Session,
    *,
    user_id: int | None,
    kind: str,
    message: str,
    link: str = "",
    subject: Subject | None = None,
) -> Notification:
    note = Notification(
        user_id=user_id,
        kind=kind,
        message=message,
        link=link,
        subject_type=subject.type if subject else None,
        subject_id=str(subject.id) if subject else None,
    )
    session.add(note)
    return note


def resolve(session: Session, subject: Subject, *, kind: str | None = None) -> int:
    """The thing is put right: its notices (of ``kind``, or all) are stale and go. Returns
    how many went (the session's tenant scope limits it to the tenant)."""
    stmt = delete(Notification).where(
        Notification.subject_type == subject.type, Notification.subject_id == str(subject.id)
    )
    if kind is not None:
        stmt = stmt.where(Notification.kind == kind)
    result = session.execute(stmt.execution_options(synchronize_session="fetch"))
    return int(getattr(result, "rowcount", 0) or 0)


def _oldest_kept(now: datetime | None = None) -> datetime:
    return (now or utcnow()) - timedelta(days=get_settings().notification_max_age_days)


def clear_stale(session: Session, *, now: datetime | None = None) -> int:
    """Delete notices older than the maximum age (a system session clears every tenant's)."""
    stmt = delete(Notification).where(Notification.created_at < _oldest_kept(now))
    result = session.execute(stmt.execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)


def _addressed_to(user_id: int, is_admin: bool) -> ColumnElement[bool]:
    """The notices a person sees: their own and, for an admin, those to every admin; none
    older than the maximum age (the daily clean-up may not have run yet)."""
    who = Notification.user_id == user_id
    if is_admin:
        who = who | Notification.user_id.is_(None)
    return who & (Notification.created_at >= _oldest_kept())


def unread_count(session: Session, user_id: int, *, is_admin: bool) -> int:
    stmt = (
        select(func.count())
        .select_from(Notification)
        .where(_addressed_to(user_id, is_admin), Notification.read_at.is_(None))
    )
    return int(session.scalar(stmt) or 0)


def list_page(
    session: Session,
    user_id: int,
    *,
    is_admin: bool,
    unread_only: bool = False,
    limit: int = 50,
    after: int | None = None,
) -> NotificationPage:
    """Newest first, ``limit`` at a time; the cursor is the last id of the page before."""
    stmt = select(Notification).where(_addressed_to(user_id, is_admin))
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    if after is not None:
        stmt = stmt.where(Notification.id < after)
    rows = list(session.scalars(stmt.order_by(Notification.id.desc()).limit(limit + 1)))
    items = rows[:limit]
    return NotificationPage(items, str(items[-1].id) if len(rows) > limit else None)


def get_for(session: Session, note_id: int, user_id: int, *, is_admin: bool) -> Notification:
    """One notice the person may see; someone else's is simply not found."""
    note = session.scalars(
        select(Notification).where(Notification.id == note_id, _addressed_to(user_id, is_admin))
    ).first()
    if note is None:
        raise NotFound(f"notification {note_id} not found")
    return note


def mark_read(
    session: Session, note_id: int, user_id: int, *, is_admin: bool, read: bool = True
) -> Notification:
    note = get_for(session, note_id, user_id, is_admin=is_admin)
    note.read_at = (note.read_at or utcnow()) if read else None
    session.flush()
    return note


def mark_all_read(session: Session, user_id: int, *, is_admin: bool) -> int:
    notes = session.scalars(
        select(Notification).where(_addressed_to(user_id, is_admin), Notification.read_at.is_(None))
    ).all()
    now = utcnow()
    for note in notes:
        note.read_at = now
    session.flush()
    return len(notes)


def dismiss(session: Session, note_id: int, user_id: int, *, is_admin: bool) -> None:
    session.delete(get_for(session, note_id, user_id, is_admin=is_admin))
    session.flush()

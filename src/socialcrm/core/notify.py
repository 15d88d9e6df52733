"""In-app notifications: how a person learns that something needs them (e.g. reconnect)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from socialcrm.core.db import Base, TenantScoped, utcnow


class Notification(TenantScoped, Base):
    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True, default=None
    )  # None: every admin of the tenant
    kind: Mapped[str] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(String(500))
    link: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(default=None)


def notify(
    session: Session, *, user_id: int | None, kind: str, message: str, link: str = ""
) -> Notification:
    note = Notification(user_id=user_id, kind=kind, message=message, link=link)
    session.add(note)
    return note


def unread_for(
    session: Session, user_id: int, *, is_admin: bool, limit: int = 20
) -> list[Notification]:
    who = Notification.user_id == user_id
    if is_admin:
        who = who | Notification.user_id.is_(None)
    stmt = (
        select(Notification)
        .where(who, Notification.read_at.is_(None))
        .order_by(Notification.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


def unread_count(session: Session, user_id: int, *, is_admin: bool) -> int:
    who = Notification.user_id == user_id
    if is_admin:
        who = who | Notification.user_id.is_(None)
    stmt = select(func.count()).select_from(Notification).where(who, Notification.read_at.is_(None))
    return int(session.scalar(stmt) or 0)

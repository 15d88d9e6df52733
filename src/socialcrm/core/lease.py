"""Leases: a row a worker works on is owned until its lease runs out, so ``kill -9`` loses nothing.

Huey removes a task once a worker takes it: if the worker dies, the task is gone, but the row
it was working on is not. A worker takes a row with one committed conditional UPDATE (free,
expired or already its own), renews the lease as it makes progress, and releases it together
with the outcome. Whoever looks for stale rows (on worker start-up and periodically) finds
those whose lease ran out and takes them over; the same UPDATE makes racing takers harmless.
Tables opt in with the ``Leased`` mixin (``lease_owner``, ``lease_until``).
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, String, inspect, or_, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from socialcrm.core.db import utcnow
from socialcrm.core.settings import get_settings

PROCESS = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Leased:
    """Mixin: who works on the row, and until when without a renewal."""

    lease_owner: Mapped[str | None] = mapped_column(String(120), default=None)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)


def new_owner() -> str:
    """A name for one attempt: two threads of one process never share a lease."""
    return f"{PROCESS}:{uuid.uuid4().hex[:8]}"


def duration() -> timedelta:
    """``SOCIALCRM_TASK_LEASE_S``: how long a taken row stays owned without a renewal."""
    return timedelta(seconds=get_settings().task_lease_s)


def free(model: type[Leased], now: datetime) -> ColumnElement[bool]:
    """Rows nobody holds: never leased, released, or left behind by a dead worker."""
    return or_(model.lease_until.is_(None), model.lease_until < now)


def take(
    session: Session,
    model: type[Leased],
    row_id: int,
    owner: str,
    *conditions: ColumnElement[bool],
    **values: Any,
) -> bool:
    """Own the row if it is free (or ours) and ``conditions`` hold, setting ``values`` too.

    Commit the unit of work before acting on the row: the lease protects only once it is
    visible to other workers.
    """
    now = utcnow()
    key = inspect(model).primary_key[0]
    taken = session.execute(
        update(model)
        .where(key == row_id, or_(free(model, now), model.lease_owner == owner), *conditions)
        .values(lease_owner=owner, lease_until=now + duration(), **values)
        .execution_options(synchronize_session=False)
    )
    return bool(taken.rowcount == 1)  # type: ignore[attr-defined]


def renew(session: Session, model: type[Leased], row_id: int, owner: str) -> bool:
    """Heartbeat. False: the lease expired and another worker took the row; stop, and write
    nothing of what this attempt learnt."""
    key = inspect(model).primary_key[0]
    renewed = session.execute(
        update(model)
        .where(key == row_id, model.lease_owner == owner)
        .values(lease_until=utcnow() + duration())
        .execution_options(synchronize_session=False)
    )
    return bool(renewed.rowcount == 1)  # type: ignore[attr-defined]


def release(session: Session, model: type[Leased], row_id: int, owner: str, **values: Any) -> bool:
    """Give the row up with its outcome (``values``), if it is still ours."""
    key = inspect(model).primary_key[0]
    released = session.execute(
        update(model)
        .where(key == row_id, model.lease_owner == owner)
        .values(lease_owner=None, lease_until=None, **values)
        .execution_options(synchronize_session=False)
    )
    return bool(released.rowcount == 1)  # type: ignore[attr-defined]


def when_free(lease_until: datetime | None, now: datetime) -> datetime | None:
    """When a row found by a resume scan can be taken: now (None) or when its lease runs out."""
    return lease_until if lease_until is not None and lease_until > now else None

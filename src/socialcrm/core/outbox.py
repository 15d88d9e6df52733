"""The queue's outbox: a job is written in the same transaction as the data it follows.

A unit of work that enqueues a job (``core.queue.enqueue_after_commit``) adds a ``queued_tasks``
row holding the job's queue message; the commit stores both or neither. After the commit the
job is handed to the queue and its row deleted; when the queue (Redis) cannot take it, the row
stays and ``relay`` sends it later (every minute, and when a consumer starts). So no commit
loses its follow-up job to an outage: a job is delivered at least once (a task takes ids and
re-reads its rows, so a second delivery after a crash between sending and deleting is harmless).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog
from huey import Huey
from sqlalchemy import Integer, LargeBinary, String, delete, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from socialcrm.core.db import Base, Database, utcnow

log = structlog.get_logger(__name__)

# The after-commit hand-over of a row younger than this may still be under way in its own
# process (it waits at most SOCIALCRM_REDIS_TIMEOUT_S): the periodic relay leaves it alone.
RELAY_GRACE_S = 30.0


class QueuedTask(Base):
    """One job waiting to be handed to the queue (not tenant data: jobs carry their tenant)."""

    __tablename__ = "queued_tasks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task: Mapped[str] = mapped_column(String(200))  # the task's name, for people reading it
    message: Mapped[bytes] = mapped_column(LargeBinary)  # the queue's own serialised message
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)


def forget_sent(session: Session, ids: list[int]) -> None:
    for start in range(0, len(ids), 500):  # SQLite binds at most 32,766 values a statement
        session.execute(delete(QueuedTask).where(QueuedTask.id.in_(ids[start : start + 500])))


def relay(db: Database, queue: Huey, *, older_than_s: float = RELAY_GRACE_S) -> int:
    """Hand the waiting jobs to the queue, oldest first; returns how many were sent. Stops at
    the first the queue cannot take (it is still down; the next relay tries again)."""
    cutoff = utcnow() - timedelta(seconds=older_than_s)
    with db.session(system=True) as session:
        waiting = session.execute(
            select(QueuedTask.id, QueuedTask.attempts, QueuedTask.message)
            .where(QueuedTask.created_at <= cutoff)
            .order_by(QueuedTask.id)
            .limit(1000)
        ).all()
    sent = 0
    for row_id, attempts, message in waiting:
        with db.session(system=True) as session:  # one relay per row, however many run
            claimed = session.execute(
                update(QueuedTask)
                .where(QueuedTask.id == row_id, QueuedTask.attempts == attempts)
                .values(attempts=attempts + 1)
            )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            continue
        try:
            queue.enqueue(queue.deserialize_task(message))
        except Exception as exc:
            from socialcrm.core.errors import outage_of

            if outage_of(exc) is not None:  # the queue is still down: the next relay tries
                log.warning("outbox_relay_failed", error_type=type(exc).__name__)
                break
            # A message this version cannot read (a task renamed since): kept for a person.
            log.error("outbox_message_unreadable", row_id=row_id, error_type=type(exc).__name__)
            continue
        with db.session(system=True) as session:
            forget_sent(session, [row_id])
        sent += 1
    if sent:
        log.info("outbox_relayed", sent=sent)
    return sent

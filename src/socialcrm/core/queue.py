"""The job queue (Huey): SQLite embedded by default, Redis for scale-out.

Jobs enqueued inside a unit of work are buffered on the session and handed to the queue only
after the commit succeeds (dropped on rollback), so a worker never runs before its row exists.
"""

from __future__ import annotations

from typing import Any

from huey import Huey, RedisHuey, SqliteHuey
from huey.api import TaskWrapper
from huey.consumer import Consumer
from sqlalchemy import event
from sqlalchemy.orm import Session

from socialcrm.core.settings import Settings, get_settings

_PENDING = "socialcrm.pending_jobs"


def make_huey(settings: Settings) -> Huey:
    url = settings.queue_url
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisHuey("socialcrm", url=url, utc=True, immediate=settings.immediate_queue)
    if url.startswith("sqlite:///"):
        return SqliteHuey(
            "socialcrm",
            filename=url.removeprefix("sqlite:///"),
            utc=True,
            immediate=settings.immediate_queue,
        )
    raise ValueError(f"unsupported SOCIALCRM_QUEUE_URL {url!r}: use sqlite:///path or redis://")


huey: Huey = make_huey(get_settings())


def enqueue_after_commit(session: Session, task: TaskWrapper, *args: Any, **kwargs: Any) -> None:
    """Hand ``task(*args)`` to the queue once ``session`` commits; forget it on rollback."""
    session.info.setdefault(_PENDING, []).append((task, args, kwargs))


@event.listens_for(Session, "after_commit")
def _flush_pending(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint was released: nothing is committed yet
    pending = session.info.pop(_PENDING, [])
    for task, args, kwargs in pending:
        task(*args, **kwargs)


@event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    # A savepoint rolled back keeps the unit of work (and its jobs; a task re-reads its row
    # and treats a missing one as gone); only the whole unit of work drops them.
    if not session.in_nested_transaction():
        session.info.pop(_PENDING, None)


def start_consumer(workers: int = 2) -> Consumer:
    """Start an in-process consumer (threads) with the periodic scheduler; returns at once."""
    import socialcrm.tasks  # noqa: F401  (registers every task and periodic task)

    consumer = huey.create_consumer(workers=workers, worker_type="thread", periodic=True)
    consumer.start()
    return consumer

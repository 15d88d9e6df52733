"""The job queue (Huey): SQLite embedded by default, Redis for scale-out.

Jobs enqueued inside a unit of work are written to the outbox (``core/outbox.py``) in the same
transaction and handed to the queue only after the commit succeeds (dropped on rollback), so a
worker never runs before its row exists, and a queue that is down loses no job: the outbox
keeps it until the queue is back.
"""

from __future__ import annotations

from typing import Any

import redis
import structlog
from huey import Huey, RedisHuey, SqliteHuey
from huey.api import Task, TaskWrapper
from sqlalchemy import inspect
from sqlalchemy.orm import Session

from socialcrm.core import events
from socialcrm.core.outbox import QueuedTask, forget_sent
from socialcrm.core.settings import Settings, get_settings

log = structlog.get_logger(__name__)

_PENDING = "socialcrm.queue.pending_jobs"
_QUEUED = "socialcrm.queue.once"


def make_huey(settings: Settings) -> Huey:
    url = settings.queue_url
    if url.startswith(("redis://", "rediss://", "unix://")):
        # Bounded waits: a Redis that refuses or stops answering fails a call within the
        # timeout (503 in the API) instead of hanging it; no retries that multiply the wait.
        pool = redis.ConnectionPool.from_url(
            url,
            socket_timeout=settings.redis_timeout_s,
            socket_connect_timeout=settings.redis_timeout_s,
        )
        return RedisHuey(
            "socialcrm", connection_pool=pool, utc=True, immediate=settings.immediate_queue
        )
    if url.startswith("sqlite:///"):
        return SqliteHuey(
            "socialcrm",
            filename=url.removeprefix("sqlite:///"),
            utc=True,
            immediate=settings.immediate_queue,
        )
    raise ValueError(f"unsupported SOCIALCRM_QUEUE_URL {url!r}: use sqlite:///path or redis://")


huey: Huey = make_huey(get_settings())


def enqueue_after_commit(
    session: Session, task: Any, *args: Any, once: bool = False, **kwargs: Any
) -> None:
    """Hand ``task(*args)`` to the queue once ``session`` commits; forget it on rollback.
    ``task`` is a task, or its ``schedule`` (then ``args`` is the task's argument tuple and
    ``eta=`` says when). The job is stored in the outbox by the same commit. ``once``: not
    again if the unit of work already queued the same task with the same arguments."""
    wrapper = getattr(task, "__self__", task)
    if not isinstance(wrapper, TaskWrapper):
        raise TypeError(f"not a queue task: {task!r}")
    if wrapper is not task:  # ``wrapper.schedule((args…), eta=…)``
        (args,) = args
    message: Task = wrapper.s(*args, **kwargs)
    if once:
        queued: set[tuple[str, Any]] = events.unit_state(session, _QUEUED, set)
        if (message.name, args) in queued:
            return
        queued.add((message.name, args))
    queue: Huey = wrapper.huey
    row = QueuedTask(task=message.name, message=queue.serialize_task(message))
    session.add(row)
    pending: list[tuple[QueuedTask, Huey, Task]] = events.unit_state(session, _PENDING, list)
    if not pending:  # the first job of the unit of work: one hand-over for them all
        events.after_commit(session, lambda: _hand_over(session, pending))
    pending.append((row, queue, message))


def _hand_over(session: Session, pending: list[tuple[QueuedTask, Huey, Task]]) -> None:
    """Give the committed jobs to the queue, then delete their outbox rows. The first the
    queue refuses stops the hand-over: those left wait in the outbox for the relay."""
    sent: list[int] = []
    for row, queue, message in pending:
        try:
            queue.enqueue(message)
        except Exception as exc:
            from socialcrm.core.errors import outage_of

            if outage_of(exc) is None:
                raise
            log.warning("queue_unavailable", error_type=type(exc).__name__, kept=len(pending))
            break
        identity = inspect(row).identity
        if identity is not None:  # None: written in a savepoint that was rolled back
            sent.append(int(identity[0]))
    if not sent:
        return
    try:
        with Session(bind=session.get_bind(), join_transaction_mode="create_savepoint") as own:
            own.info["system"] = True
            forget_sent(own, sent)
            own.commit()
    except Exception as exc:  # the relay will send them again: at least once
        log.warning("outbox_forget_failed", error_type=type(exc).__name__, rows=len(sent))


def relay_on_start() -> None:
    """A starting consumer sends the jobs the outbox kept (the queue was down when their data
    was committed). An outage now is only logged: the minutely relay tries again."""
    from socialcrm.core import outbox
    from socialcrm.core.db import get_database
    from socialcrm.core.errors import outage_of

    try:
        outbox.relay(get_database(), huey, older_than_s=0)
    except Exception as exc:
        if outage_of(exc) is None:
            raise
        log.warning("outbox_relay_failed", error_type=type(exc).__name__)

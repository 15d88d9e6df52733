"""The queue's outbox: a job whose queue refused it after the commit waits in ``queued_tasks``
and is relayed once the queue is back, exactly once per relay however often it runs."""

from __future__ import annotations

from pathlib import Path

from huey import Huey
from sqlalchemy import select

from socialcrm.core import outbox
from socialcrm.core.db import Database
from socialcrm.core.outbox import QueuedTask
from socialcrm.core.queue import enqueue_after_commit, make_huey
from socialcrm.core.settings import Settings
from tests.live import free_port


def _probe(queue: Huey) -> object:
    def outbox_probe(value: int) -> int:
        return value

    return queue.task(name="outbox_probe")(outbox_probe)


def _waiting(database: Database) -> list[str]:
    with database.session(system=True) as session:
        return list(session.scalars(select(QueuedTask.task)))


def test_a_job_the_queue_refused_waits_in_the_outbox_until_it_is_relayed(
    database: Database, tmp_path: Path
) -> None:
    # Nothing listens on this port: the Redis queue refuses every connection.
    down = make_huey(
        Settings(
            queue_url=f"redis://127.0.0.1:{free_port()}/0", data_dir=tmp_path, immediate_queue=False
        )
    )
    up = make_huey(
        Settings(queue_url=f"sqlite:///{tmp_path}/q.db", data_dir=tmp_path, immediate_queue=False)
    )
    task_down, _ = _probe(down), _probe(up)

    with database.session(system=True) as session:
        enqueue_after_commit(session, task_down, 7)
    # Committed, and so is its job: the refusal after the commit lost nothing.
    assert _waiting(database) == ["outbox_probe"]

    # The minutely relay leaves a job this young to its own hand-over.
    assert outbox.relay(database, up) == 0
    assert outbox.relay(database, up, older_than_s=0) == 1
    assert outbox.relay(database, up, older_than_s=0) == 0
    assert _waiting(database) == []
    [message] = [up.deserialize_task(raw) for raw in up.storage.enqueued_items()]
    assert message.args == (7,)


def test_a_job_the_queue_took_leaves_no_row(database: Database, tmp_path: Path) -> None:
    up = make_huey(
        Settings(queue_url=f"sqlite:///{tmp_path}/q.db", data_dir=tmp_path, immediate_queue=False)
    )
    task = _probe(up)
    with database.session(system=True) as session:
        enqueue_after_commit(session, task, 8)
    assert up.pending_count() == 1
    assert _waiting(database) == []

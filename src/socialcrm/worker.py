"""The one task registry: every domain's queue entry points, and the consumers that run them.

Importing this module registers every task and periodic task with the queue (their Huey names
stay ``socialcrm.<domain>.tasks.<function>``, the names the outbox's waiting jobs carry) and
wires the domain events (``socialcrm.wiring``). Every consumer imports it before it runs a
task: ``socialcrm worker``, the consumer ``socialcrm serve`` starts, tests and benchmarks.
``core.queue`` itself knows no domain.
"""

from __future__ import annotations

from huey.consumer import Consumer

from socialcrm.connections import tasks as connection_tasks
from socialcrm.core import tasks as core_tasks
from socialcrm.core.queue import huey, relay_on_start
from socialcrm.discovery import tasks as discovery_tasks
from socialcrm.enrichment import tasks as enrichment_tasks
from socialcrm.identity import tasks as identity_tasks
from socialcrm.listening import tasks as listening_tasks
from socialcrm.publishing import tasks as publishing_tasks
from socialcrm.signatures import tasks as signatures_tasks
from socialcrm.wiring import wire

wire()  # every consumer imports this module before it runs a task

TASK_MODULES = (
    connection_tasks,
    core_tasks,
    discovery_tasks,
    enrichment_tasks,
    identity_tasks,
    listening_tasks,
    publishing_tasks,
    signatures_tasks,
)


def start_consumer(workers: int = 2) -> Consumer:
    """Start an in-process consumer (threads) with the periodic scheduler; returns at once."""
    consumer = huey.create_consumer(workers=workers, worker_type="thread", periodic=True)
    relay_on_start()
    consumer.start()
    return consumer


def run_consumer(workers: int, *, periodic: bool) -> None:
    """A standalone consumer in the foreground (``socialcrm worker``)."""
    relay_on_start()
    huey.create_consumer(workers=workers, worker_type="thread", periodic=periodic).run()

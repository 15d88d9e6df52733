"""Every task and periodic task, registered in one place (imported by every consumer)."""

from socialcrm.connections import tasks as connection_tasks
from socialcrm.discovery import tasks as discovery_tasks
from socialcrm.enrichment import tasks as enrichment_tasks
from socialcrm.identity import tasks as identity_tasks
from socialcrm.listening import tasks as listening_tasks
from socialcrm.publishing import tasks as publishing_tasks
from socialcrm.signatures import tasks as signatures_tasks
from socialcrm.wiring import wire

wire()  # every consumer imports this module before it runs a task

__all__ = [
    "connection_tasks",
    "discovery_tasks",
    "enrichment_tasks",
    "identity_tasks",
    "listening_tasks",
    "publishing_tasks",
    "signatures_tasks",
]

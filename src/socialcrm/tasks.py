"""Every task and periodic task, registered in one place (imported by every consumer)."""

from socialcrm.connections import tasks as connection_tasks

__all__ = ["connection_tasks"]

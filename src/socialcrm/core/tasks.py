"""Queue entry points of core: the periodic clean-up of its own tables."""

from __future__ import annotations

from huey import crontab

from socialcrm.core import notify, outbox
from socialcrm.core.db import get_database
from socialcrm.core.queue import huey


@huey.periodic_task(crontab(minute="23", hour="3"))
def clear_stale_notifications() -> int:
    """Once a day: delete notices past ``SOCIALCRM_NOTIFICATION_MAX_AGE_DAYS``, every tenant's
    (they are already hidden; this keeps the table small)."""
    with get_database().session(system=True) as session:
        return notify.clear_stale(session)


@huey.periodic_task(crontab())
def relay_outbox() -> int:
    """Every minute: hand the queue the jobs its outbox kept while it was down."""
    return outbox.relay(get_database(), huey)

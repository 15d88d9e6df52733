"""Queue entry points for publishing: thin wrappers over ``sending`` and ``metrics``.

Huey forgets a task once a worker takes it, so none of these relies on its task surviving:
a target a dead worker left in ``publishing``, or a metrics cycle it left unfinished, is
found again by the minutely scans and when a worker starts.
"""

from __future__ import annotations

from datetime import datetime

import structlog
from huey import crontab
from huey.api import TaskWrapper

from socialcrm.connections.service import AccountNotActive
from socialcrm.core.db import get_database, utcnow
from socialcrm.core.errors import NotFound
from socialcrm.core.queue import huey
from socialcrm.providers.base import RateLimited, TransientProviderError
from socialcrm.publishing import metrics, sending

log = structlog.get_logger(__name__)


@huey.task()
def publish_target(tenant_id: int, target_id: int) -> str:
    """Retries are the service's (it reschedules with backoff), never the queue's blind ones."""
    return sending.publish_target(get_database(), tenant_id, target_id)


@huey.task(retries=3, retry_delay=60)
def verify_target(tenant_id: int, target_id: int) -> str:
    """Confirms a target that has its network id (tasks queued by earlier versions)."""
    return sending.publish_target(get_database(), tenant_id, target_id)


@huey.task()
def refresh_account_metrics(tenant_id: int, account_id: int) -> int:
    try:
        return metrics.refresh_metrics(get_database(), tenant_id, account_id)
    except (AccountNotActive, NotFound):
        log.info("metrics_skipped_inactive", account_id=account_id)
    except (RateLimited, TransientProviderError):
        log.info("metrics_deferred", account_id=account_id)
    return 0


def _hand_out(task: TaskWrapper, rows: list[tuple[int, int, datetime | None]]) -> int:
    """Enqueue each (tenant, row): now, or at the time it can be taken."""
    for tenant_id, row_id, eta in rows:
        if eta is None:
            task(tenant_id, row_id)
        else:
            task.schedule((tenant_id, row_id), eta=eta)
    return len(rows)


@huey.periodic_task(crontab(minute="*"))
def dispatch_due_posts() -> int:
    """Every minute: hand due targets to the workers (the claim makes duplicates harmless),
    and take over targets a dead worker left in ``publishing``."""
    db = get_database()
    now = utcnow()
    due = sending.due_targets(db, now)
    for tenant_id, target_id in due:
        publish_target(tenant_id, target_id)
    interrupted = _hand_out(publish_target, sending.interrupted_targets(db, now))
    if interrupted:
        log.info("publishing_resumed", targets=interrupted)
    return len(due)


@huey.periodic_task(crontab(minute="*/30"))
def refresh_engagement_metrics() -> int:
    db, now = get_database(), utcnow()
    accounts = metrics.accounts_with_recent_posts(db, now)
    for tenant_id, account_id in accounts:
        metrics.request_cycle(db, tenant_id, account_id, now)
        refresh_account_metrics(tenant_id, account_id)
    return len(accounts)


@huey.periodic_task(crontab(minute="*"))
def resume_metrics_cycles() -> int:
    return _hand_out(refresh_account_metrics, metrics.cycles_to_resume(get_database(), utcnow()))


@huey.on_startup(name="resume_publishing")
def _resume_on_start() -> None:
    """A restarted worker picks up what a dead one held, once its leases run out."""
    try:
        db, now = get_database(), utcnow()
        _hand_out(publish_target, sending.interrupted_targets(db, now, held=True))
        _hand_out(refresh_account_metrics, metrics.cycles_to_resume(db, now, held=True))
    except Exception:  # a consumer must start even if the database is not reachable yet
        log.exception("publishing_resume_failed")

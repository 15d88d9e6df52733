"""Queue entry points for publishing: thin wrappers over the service."""

from __future__ import annotations

import structlog
from huey import crontab

from socialcrm.connections.service import AccountNotActive
from socialcrm.core.db import get_database, utcnow
from socialcrm.core.errors import NotFound
from socialcrm.core.queue import huey
from socialcrm.providers.base import RateLimited, TransientProviderError
from socialcrm.publishing import service

log = structlog.get_logger(__name__)


@huey.task()
def publish_target(tenant_id: int, target_id: int) -> str:
    """Retries are the service's (it reschedules with backoff), never the queue's blind ones."""
    return service.publish_target(get_database(), tenant_id, target_id)


@huey.task(retries=3, retry_delay=60)
def verify_target(tenant_id: int, target_id: int) -> str:
    return service.verify_target(get_database(), tenant_id, target_id)


@huey.task()
def refresh_account_metrics(tenant_id: int, account_id: int) -> int:
    try:
        return service.refresh_metrics(get_database(), tenant_id, account_id)
    except (AccountNotActive, NotFound):
        log.info("metrics_skipped_inactive", account_id=account_id)
    except (RateLimited, TransientProviderError):
        log.info("metrics_deferred", account_id=account_id)
    return 0


@huey.periodic_task(crontab(minute="*"))
def dispatch_due_posts() -> int:
    """Every minute: hand due targets to the workers (the claim makes duplicates harmless)."""
    db = get_database()
    now = utcnow()
    due = service.due_targets(db, now)
    for tenant_id, target_id in due:
        publish_target(tenant_id, target_id)
    to_verify, failed = service.sweep_stuck(db, now)
    for tenant_id, target_id in to_verify:
        verify_target(tenant_id, target_id)
    if failed:
        log.warning("publishing_interrupted", failed=failed)
    return len(due)


@huey.periodic_task(crontab(minute="*/30"))
def refresh_engagement_metrics() -> int:
    accounts = service.accounts_with_recent_posts(get_database(), utcnow())
    for tenant_id, account_id in accounts:
        refresh_account_metrics(tenant_id, account_id)
    return len(accounts)

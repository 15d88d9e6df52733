"""Queue entry points of listening: thin wrappers over the service."""

from __future__ import annotations

import structlog
from huey import crontab

from socialcrm.connections.service import AccountNotActive
from socialcrm.core.db import get_database, utcnow
from socialcrm.core.queue import huey
from socialcrm.listening import delivery, escalation, ingestion
from socialcrm.providers.tasks import provider_task

log = structlog.get_logger(__name__)


@provider_task(default=0, gone=(AccountNotActive,), retries=3, retry_delay=30)
def poll_account_mentions(tenant_id: int, account_id: int) -> int:
    return ingestion.poll_account(get_database(), tenant_id, account_id).result.stored


@huey.periodic_task(crontab(minute="*"))
def poll_all_mentions() -> int:
    """Every active connected account, each in its own task (revoked/errored are not listed)."""
    accounts = ingestion.accounts_to_poll(get_database())
    for tenant_id, account_id in accounts:
        poll_account_mentions(tenant_id, account_id)
    return len(accounts)


@huey.task(retries=0)
def deliver_webhook(tenant_id: int, delivery_id: int) -> bool:
    retry_at = delivery.deliver(get_database(), tenant_id, delivery_id)
    if retry_at is not None:
        deliver_webhook.schedule((tenant_id, delivery_id), eta=retry_at)
        return False
    return True


def _resume_deliveries(*, held: bool) -> int:
    pending = delivery.deliveries_to_resume(get_database(), utcnow(), held=held)
    for tenant_id, delivery_id, eta in pending:
        if eta is None:
            deliver_webhook(tenant_id, delivery_id)
        else:
            deliver_webhook.schedule((tenant_id, delivery_id), eta=eta)
    return len(pending)


@huey.periodic_task(crontab(minute="*"))
def resume_webhook_deliveries() -> int:
    """Deliveries whose task was lost (its worker killed mid-POST) are sent again."""
    return _resume_deliveries(held=False)


@huey.on_startup(name="resume_webhook_deliveries")
def _resume_deliveries_on_start() -> None:
    try:
        _resume_deliveries(held=True)
    except Exception:  # a consumer must start even if the database is not reachable yet
        log.exception("webhook_resume_failed")


@huey.task(retries=3, retry_delay=30)
def escalate_overdue_tickets(tenant_id: int) -> int:
    """Idempotent: a Ticket already flagged is never escalated again, so a retry is safe."""
    return len(escalation.escalate_tenant(get_database(), tenant_id))


@huey.periodic_task(crontab(minute="*"))
def check_first_response_slas() -> int:
    """Every tenant with an overdue first response, each in its own task."""
    tenants = escalation.overdue_tenants(get_database())
    for tenant_id in tenants:
        escalate_overdue_tickets(tenant_id)
    return len(tenants)

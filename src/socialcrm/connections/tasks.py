"""Queue entry points for connected accounts: thin wrappers over the service."""

from __future__ import annotations

import structlog
from huey import crontab

from socialcrm.connections import connecting, service, tokens
from socialcrm.core.db import get_database
from socialcrm.core.queue import huey
from socialcrm.providers.tasks import provider_task

log = structlog.get_logger(__name__)


@huey.task(retries=8, retry_delay=30)
def revoke_at_provider(tenant_id: int, account_id: int) -> bool:
    return tokens.revoke_tokens(get_database(), tenant_id, account_id)


@provider_task(default=False, retries=5, retry_delay=20)
def refresh_account(tenant_id: int, account_id: int) -> bool:
    return tokens.refresh_tokens(get_database(), tenant_id, account_id)


@provider_task(gone=(service.AccountNotActive,), retries=3, retry_delay=60)
def sync_account_profile(tenant_id: int, account_id: int) -> None:
    tokens.sync_profile(get_database(), tenant_id, account_id)


@huey.periodic_task(crontab(minute="*/5"))
def refresh_due_tokens() -> int:
    due = tokens.accounts_due_for_refresh(get_database())
    for tenant_id, account_id in due:
        refresh_account(tenant_id, account_id)
    return len(due)


@huey.periodic_task(crontab(minute="17", hour="*/6"))
def sync_connected_profiles() -> int:
    """Only active accounts are polled: a disconnected account drops out at once."""
    accounts = tokens.active_accounts(get_database())
    for tenant_id, account_id in accounts:
        sync_account_profile(tenant_id, account_id)
    return len(accounts)


@huey.periodic_task(crontab(minute="3", hour="4"))
def purge_oauth_states() -> int:
    return connecting.purge_expired_states(get_database())

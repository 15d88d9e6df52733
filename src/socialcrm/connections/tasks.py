"""Queue entry points for connected accounts: thin wrappers over the service."""

from __future__ import annotations

import structlog
from huey import crontab

from socialcrm.connections import connecting, service, tokens
from socialcrm.core.db import get_database
from socialcrm.core.errors import NotFound
from socialcrm.core.queue import huey
from socialcrm.providers.base import RateLimited, TransientProviderError

log = structlog.get_logger(__name__)


@huey.task(retries=8, retry_delay=30)
def revoke_at_provider(tenant_id: int, account_id: int) -> bool:
    return tokens.revoke_tokens(get_database(), tenant_id, account_id)


@huey.task(retries=5, retry_delay=20)
def refresh_account(tenant_id: int, account_id: int) -> bool:
    try:
        return tokens.refresh_tokens(get_database(), tenant_id, account_id)
    except RateLimited as exc:
        # Not a failure: try again when the network says so (a queue ETA, no sleeping thread).
        refresh_account.schedule((tenant_id, account_id), eta=exc.retry_at)
        return False


@huey.task(retries=3, retry_delay=60)
def sync_account_profile(tenant_id: int, account_id: int) -> None:
    try:
        tokens.sync_profile(get_database(), tenant_id, account_id)
    except (service.AccountNotActive, NotFound):
        log.info("sync_skipped_inactive", account_id=account_id)
    except RateLimited as exc:
        sync_account_profile.schedule((tenant_id, account_id), eta=exc.retry_at)
    except TransientProviderError:
        raise  # retried by the queue


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

"""Queue entry points: IMAP mailbox syncs (on demand and every five minutes)."""

from __future__ import annotations

import structlog
from huey import crontab
from sqlalchemy import select

from socialcrm.core.db import get_database
from socialcrm.core.errors import NotFound
from socialcrm.core.queue import huey
from socialcrm.signatures.models import ImapAccount

log = structlog.get_logger(__name__)


@huey.task(retries=3, retry_delay=60)
def sync_mailbox(account_id: int) -> int:
    from socialcrm.signatures.imap import ImapError, sync_account

    try:
        result = sync_account(get_database(), account_id)
    except NotFound:
        log.info("imap_sync_gone", account_id=account_id)
        return 0
    except ImapError as exc:
        # Recorded on the account for its owner to see; the next periodic run tries again.
        log.warning("imap_sync_failed", account_id=account_id, error=exc.message)
        return 0
    log.info("imap_synced", account_id=account_id, stored=result.stored, fetched=result.fetched)
    return result.stored


def _due_accounts() -> list[int]:
    with get_database().session(system=True) as session:
        return list(session.scalars(select(ImapAccount.id).where(ImapAccount.active.is_(True))))


@huey.periodic_task(crontab(minute="*/5"))
def sync_all_mailboxes() -> int:
    accounts = _due_accounts()
    for account_id in accounts:
        sync_mailbox(account_id)
    return len(accounts)

"""Queue entry points: IMAP mailbox syncs (on demand and every five minutes), and the resume
of syncs whose worker died (on start-up; the five-minute run resumes them too)."""

from __future__ import annotations

import structlog
from huey import crontab
from sqlalchemy import select

from socialcrm.core.db import get_database, utcnow
from socialcrm.core.errors import NotFound
from socialcrm.core.queue import huey
from socialcrm.signatures.models import ImapAccount

log = structlog.get_logger(__name__)


@huey.task(retries=3, retry_delay=60)
def sync_mailbox(account_id: int) -> int:
    from socialcrm.signatures.imap import ImapError, SyncUnderWay, sync_account

    try:
        result = sync_account(get_database(), account_id)
    except NotFound:
        log.info("imap_sync_gone", account_id=account_id)
        return 0
    except SyncUnderWay as exc:  # one sync at a time: the one holding the lease goes on
        log.info("imap_sync_under_way", account_id=account_id, detail=exc.message)
        return 0
    except ImapError as exc:
        # Recorded on the account for its owner to see; the next periodic run tries again.
        log.warning("imap_sync_failed", account_id=account_id, error=exc.message)
        return 0
    log.info(
        "imap_synced",
        account_id=account_id,
        stored=result.stored,
        failed=result.failed,
        fetched=result.fetched,
        last_uid=result.last_uid,
    )
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


@huey.on_startup()
def _resume_on_start() -> None:
    """A restarted worker resumes the syncs a killed one left holding their lease (once the
    lease has expired: a live one may belong to a worker on another machine)."""
    try:
        resume_interrupted_syncs()
    except Exception:  # a consumer must start even if the database is not reachable yet
        log.exception("imap_resume_failed")


def resume_interrupted_syncs() -> int:
    from socialcrm.signatures.imap import interrupted_syncs

    pending = interrupted_syncs(get_database())
    now = utcnow()
    for account_id, lease_until in pending:
        if lease_until is not None and lease_until > now:
            sync_mailbox.schedule((account_id,), eta=lease_until)
        else:
            sync_mailbox(account_id)
    return len(pending)

"""Queue entry points for discovery: thin wrappers over the service."""

from __future__ import annotations

from typing import Any

import structlog
from huey import crontab
from sqlalchemy.orm import Session

from socialcrm.core.db import get_database
from socialcrm.core.queue import enqueue_after_commit, huey
from socialcrm.discovery import accounts, chunks, runner
from socialcrm.discovery.models import DiscoveryJob
from socialcrm.discovery.settings import get_discovery_settings

log = structlog.get_logger(__name__)


@huey.task(retries=2, retry_delay=15, context=True)
def run_socials_chunk(tenant_id: int, job_id: str, chunk: int, task: Any = None) -> int:
    """One chunk of a socials job; any number of workers run a job's chunks in parallel."""
    try:
        return runner.run_chunk(get_database(), tenant_id, job_id, chunk)
    except runner.JobGone:
        log.info("discovery_chunk_skipped_gone", job_id=job_id, chunk=chunk)
        return 0
    except Exception as exc:
        if task is None or not task.retries:
            runner.fail_job(get_database(), tenant_id, job_id, f"chunk {chunk}: {exc!r}")
        raise


def enqueue_job(session: Session, job: DiscoveryJob) -> None:
    """Hand every chunk of ``job`` to the queue once the creating transaction commits."""
    for chunk in range(job.chunks_total):
        enqueue_after_commit(session, run_socials_chunk, job.tenant_id, job.id, chunk)


@huey.periodic_task(crontab(minute="*"))
def resume_socials_chunks() -> int:
    """Chunks whose worker died (its lease ran out) or whose task was lost run again."""
    due = chunks.chunks_to_resume(get_database())
    for tenant_id, job_id, chunk in due:
        run_socials_chunk(tenant_id, job_id, chunk)
    return len(due)


@huey.on_startup()
def _resume_socials_on_start() -> None:
    """A (re)started worker resumes what a dead one left: now, and once more when the lease
    of a worker killed just before has run out."""
    try:
        resume_socials_chunks.call_local()
        resume_socials_chunks.schedule(delay=get_discovery_settings().lease_s + 1)
    except Exception:  # a consumer must start even if the database is not reachable yet
        log.exception("discovery_resume_failed")


@huey.task(retries=2, retry_delay=60)
def discover_account(tenant_id: int, account_id: int) -> int:
    """Read one Account's website and suggest the profiles found there."""
    return accounts.discover_account(get_database(), tenant_id, account_id)


@huey.periodic_task(crontab(minute="40", hour="2"))
def nightly_account_discovery() -> int:
    """Every Account with a website, once a night (new profiles appear as suggestions)."""
    due = accounts.accounts_with_websites(get_database())
    for tenant_id, account_id in due:
        discover_account(tenant_id, account_id)
    return len(due)

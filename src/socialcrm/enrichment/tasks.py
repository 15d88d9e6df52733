"""Queue entry points of enrichment: thin wrappers over ``runs`` and ``service``."""

from __future__ import annotations

import structlog
from huey import crontab

from socialcrm.core.db import get_database
from socialcrm.core.queue import huey
from socialcrm.crm.models import Contact
from socialcrm.enrichment import runs, service, workflows
from socialcrm.enrichment.settings import enrichment_settings
from socialcrm.providers.base import TransientProviderError

log = structlog.get_logger(__name__)


@huey.task(retries=3, retry_delay=30)
def run_enrichment(tenant_id: int, run_id: int) -> str:
    step = runs.process_run(get_database(), tenant_id, run_id)
    if step.eta is not None:
        run_enrichment.schedule((tenant_id, run_id), eta=step.eta)
        return f"scheduled {step.eta.isoformat()}"
    if step.more:
        run_enrichment(tenant_id, run_id)
        return "continued"
    return "done"


@huey.task(retries=5, retry_delay=60)
def enrich_contact(tenant_id: int, contact_id: int) -> str:
    """Trigger (A): a Contact was created or its email, phone or handles changed."""
    db = get_database()
    with db.session(tenant_id=tenant_id) as session:
        if session.get(Contact, contact_id) is None:
            return "gone"
        if not service.enrichment_accounts(session):
            return "no accounts"
    outcome = workflows.enrich_contacts(db, tenant_id, [contact_id])
    if outcome.status == "deferred":
        if outcome.retry_at is not None:
            enrich_contact.schedule((tenant_id, contact_id), eta=outcome.retry_at)
            return f"scheduled {outcome.retry_at.isoformat()}"
        raise TransientProviderError(f"enrichment deferred: {outcome.reason}")  # queue retries
    return "done"


def _nightly_schedule() -> crontab:
    minute, hour, day, month, weekday = enrichment_settings().nightly.split()
    return crontab(minute=minute, hour=hour, day=day, month=month, day_of_week=weekday)


@huey.periodic_task(_nightly_schedule())
def nightly_enrichment() -> int:
    """Trigger (B): every tenant with a connected account gets a run (one at a time)."""
    db = get_database()
    started = 0
    for tenant_id in runs.tenants_to_enrich(db):
        run_id, new = runs.start_run(db, tenant_id, trigger="nightly", actor="system")
        if new:
            run_enrichment(tenant_id, run_id)
            started += 1
    return started


@huey.periodic_task(crontab(minute="*"))
def resume_enrichment_runs() -> int:
    return _resume()


@huey.on_startup()
def _resume_on_start() -> None:
    """A restarted worker picks up runs whose worker died (after their lease expires)."""
    try:
        _resume()
    except Exception:  # a consumer must start even if the database is not reachable yet
        log.exception("enrichment_resume_failed")


def _resume() -> int:
    pending = runs.runs_to_resume(get_database())
    for tenant_id, run_id, eta in pending:
        if eta is None:
            run_enrichment(tenant_id, run_id)
        else:
            run_enrichment.schedule((tenant_id, run_id), eta=eta)
    return len(pending)

"""Queue entry points of identity resolution (thin wrappers over the backfill functions)."""

from __future__ import annotations

from socialcrm.core.db import get_database
from socialcrm.core.queue import huey
from socialcrm.identity import backfill

BATCH = 500


@huey.task(retries=3, retry_delay=30)
def sync_tenant_identities(tenant_id: int) -> int:
    """Backfill the identity graph from every Contact's handles, one batch per transaction."""
    db = get_database()
    with db.session(tenant_id=tenant_id) as session:
        ids = backfill.contact_ids_with_handles(session, tenant_id)
    linked = 0
    for start in range(0, len(ids), BATCH):
        with db.session(tenant_id=tenant_id) as session:
            linked += backfill.sync_contacts(session, tenant_id, ids[start : start + BATCH])
    return linked

"""Migrate the configured database and bulk-insert N contacts for one new tenant.

Prints the tenant's API key, then the lowest and highest contact id. Used by bench/api.py in a
child process so each backend gets its own settings.
"""

from __future__ import annotations

import random
import sys
from typing import Any

from sqlalchemy import insert, select

from socialcrm.core.db import get_database, utcnow
from socialcrm.core.settings import get_settings
from socialcrm.crm.models import Contact
from socialcrm.crm.service import contact_search_text
from socialcrm.migrations import upgrade
from socialcrm.tenancy.service import create_api_key, get_or_create_tenant

FIRST = ["Ada", "Grace", "Alan", "Linus", "Margaret", "Katherine", "Tim", "Barbara", "Ken"]
LAST = ["Lovelace", "Hopper", "Turing", "Torvalds", "Hamilton", "Johnson", "Liskov"]


def main(count: int) -> None:
    upgrade(get_settings().database_url)
    db = get_database()
    with db.session(system=True) as session:
        tenant = get_or_create_tenant(session, "Bench")
        _, key = create_api_key(session, tenant=tenant)
        tenant_id = tenant.id
    rng = random.Random(1)
    now = utcnow()
    batch: list[dict[str, Any]] = []
    with db.engine.begin() as conn:
        for i in range(count):
            values: dict[str, Any] = {
                "name": f"{rng.choice(FIRST)} {rng.choice(LAST)} {i}",
                "emails": [f"p{i}@example.com"],
                "phones": [],
                "company": f"Company {i % 5000}",
                "handles": [{"network": "x", "handle": f"p{i}"}],
            }
            values["search_text"] = contact_search_text(values)
            batch.append(values | {"tenant_id": tenant_id, "created_at": now, "updated_at": now})
            if len(batch) == 5000:
                conn.execute(insert(Contact), batch)
                batch.clear()
        if batch:
            conn.execute(insert(Contact), batch)
        ids = conn.execute(select(Contact.id).where(Contact.tenant_id == tenant_id)).scalars()
        id_list = list(ids)
    print(key)
    print(min(id_list), max(id_list))


if __name__ == "__main__":
    main(int(sys.argv[1]))

"""Plain factories for listening tests."""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from socialcrm.core.db import Database
from socialcrm.core.principal import Principal, Role
from socialcrm.listening import ingestion, service
from socialcrm.listening.models import ListeningRule
from socialcrm.listening.pipeline import Incoming, IngestResult
from socialcrm.tenancy.models import Tenant
from socialcrm.tenancy.service import create_user, get_or_create_tenant

_ids = itertools.count(5_000_000)


def admin(tenant_id: int, user_id: int | None = None) -> Principal:
    return Principal(tenant_id=tenant_id, role=Role.ADMIN, user_id=user_id)


def make_tenant(db: Database, name: str = "Listen Co", policy: dict[str, Any] | None = None) -> int:
    with db.session(system=True) as session:
        tenant = get_or_create_tenant(session, name)
        if policy is not None:
            tenant.policy = policy
        session.flush()
        return tenant.id


def make_user(db: Database, tenant_id: int, email: str, role: Role = Role.AGENT) -> int:
    with db.session(system=True) as session:
        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None
        return create_user(
            session, tenant=tenant, email=email, password="pw-123456789", role=role
        ).id


def make_rule(db: Database, tenant_id: int, **values: Any) -> int:
    values.setdefault("name", "rule")
    with db.session(tenant_id=tenant_id) as session:
        return service.create_rule(session, admin(tenant_id), values).id


def post(
    text: str,
    *,
    network: str = "x",
    external_id: str | None = None,
    author: str = "someone",
    user_id: str | None = None,
    **extra: Any,
) -> Incoming:
    return Incoming(
        network=network,
        external_id=external_id or str(next(_ids)),
        text=text,
        author_handle=author,
        author_user_id=user_id if user_id is not None else f"u-{author}",
        **extra,
    )


def ingest(db: Database, tenant_id: int, *items: Incoming) -> IngestResult:
    result: IngestResult = ingestion.ingest_committed(db, tenant_id, items)
    return result


def rule_count(session: Session) -> int:
    return len(session.query(ListeningRule).all())


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)

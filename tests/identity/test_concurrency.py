"""Never two Leads for one sender: 50 concurrent requests against a real server and a
committed database (SQLite, or PostgreSQL when SOCIALCRM_TEST_POSTGRES_URL is set)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from socialcrm.core.db import Database
from socialcrm.crm.models import Lead
from socialcrm.identity.models import GuestLead, IdentityProfile, IdentityReview
from socialcrm.tenancy.service import create_api_key, get_or_create_tenant
from tests.conftest import committed_database
from tests.live import live_app

CONCURRENT = 50


@pytest.fixture
def committed_db(tmp_path: Path) -> Iterator[Database]:
    """A database whose transactions really commit (the per-test rollback would hide races)."""
    with committed_database(tmp_path, "idrace") as (db, _url):
        yield db


@pytest.mark.parametrize(
    "sender",
    [
        {"handle": "@racer", "user_id": "31337"},
        {"handle": "@racer", "user_id": "31337", "email": "racer@example.com"},
        {"handle": "@handle_only"},
    ],
    ids=["user-id", "user-id-and-email", "handle-only"],
)
def test_fifty_concurrent_guests_make_one_lead(
    committed_db: Database, sender: dict[str, str]
) -> None:
    with committed_db.session(system=True) as session:
        tenant = get_or_create_tenant(session, "Race Co")
        tenant_id = tenant.id
        _, key = create_api_key(session, tenant=tenant)
    body: dict[str, Any] = {"channel": "x", "create_lead": True, **sender}
    start = threading.Barrier(CONCURRENT)

    with live_app() as base:

        def one(_: int) -> httpx.Response:
            with httpx.Client(
                base_url=base, timeout=60, headers={"Authorization": f"Bearer {key}"}
            ) as client:
                start.wait()
                return client.post("/api/v1/resolve", json=body)

        with ThreadPoolExecutor(CONCURRENT) as pool:
            responses = list(pool.map(one, range(CONCURRENT)))

    assert [r.status_code for r in responses] == [200] * CONCURRENT, [
        r.text for r in responses if r.status_code != 200
    ][:3]
    answers = [r.json() for r in responses]
    lead_ids = {a["lead_id"] for a in answers}
    assert len(lead_ids) == 1 and None not in lead_ids
    assert sorted(a["reason"] for a in answers).count("lead_created") == 1
    with committed_db.session(tenant_id=tenant_id) as session:
        assert session.scalar(select(func.count()).select_from(Lead)) == 1
        claims = session.scalars(select(GuestLead.subject)).all()
        assert len(claims) == len(set(claims)) == (2 if "email" in sender else 1)
        assert session.scalar(select(func.count()).select_from(IdentityProfile)) == 1
        reviews = session.scalars(select(IdentityReview)).all()
        assert [(r.kind, r.lead_id) for r in reviews] == [("new_lead", lead_ids.pop())]


def test_the_constraint_not_a_prior_select_refuses_a_second_claim(committed_db: Database) -> None:
    """Even code that skipped the lookup cannot store a second claim for one user id."""
    from sqlalchemy.exc import IntegrityError

    with committed_db.session(system=True) as session:
        tenant_id = get_or_create_tenant(session, "Race Co").id
    with committed_db.session(tenant_id=tenant_id) as session:
        lead = Lead(name="first")
        session.add(lead)
        session.flush()
        session.add(GuestLead(network="x", subject="id:1", lead_id=lead.id))
    with pytest.raises(IntegrityError), committed_db.session(tenant_id=tenant_id) as session:
        other = Lead(name="second")
        session.add(other)
        session.flush()
        session.add(GuestLead(network="x", subject="id:1", lead_id=other.id))

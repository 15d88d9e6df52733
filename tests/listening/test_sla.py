"""The first-response SLA of social Tickets: the clock stops at the first response, and an
overdue Ticket is escalated exactly once, in its own tenant only, announced in the app, on the
live stream and to outbound webhooks."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from socialcrm.core.audit import AuditLog
from socialcrm.core.db import Database, utcnow
from socialcrm.core.notify import Notification
from socialcrm.core.principal import Role
from socialcrm.crm import service as crm
from socialcrm.crm import sla
from socialcrm.crm.models import Priority, Ticket
from socialcrm.listening import escalation, live, tasks
from socialcrm.listening.models import (
    ListeningRule,
    SocialMention,
    WebhookDelivery,
    WebhookSubscription,
)
from socialcrm.tenancy.models import Tenant
from socialcrm.tenancy.service import create_user
from tests.conftest import committed_tenant, ui_login
from tests.listening.conftest import WebhookReceiver
from tests.listening.factories import ingest, make_rule, make_tenant, make_user, post
from tests.listening.test_api import tenant_id as tenant_named

GUEST_SLA = timedelta(minutes=480)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# --- the pure clock -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (Priority.LOW, Priority.NORMAL),
        (Priority.NORMAL, Priority.HIGH),
        (Priority.HIGH, Priority.URGENT),
        (Priority.URGENT, Priority.URGENT),  # capped at the top
        ("bogus", Priority.HIGH),  # unknown counts as normal
    ],
)
def test_next_priority_climbs_one_step_and_stops_at_the_top(given: str, expected: str) -> None:
    assert sla.next_priority(given) == expected


DUE = "2025-03-01T12:00:00"


@pytest.mark.parametrize(
    ("due", "responded", "now", "breached"),
    [
        (None, None, "2030-01-01T00:00:00", False),  # no clock
        (DUE, None, "2025-03-01T11:59:59", False),  # not yet due
        (DUE, None, DUE, False),  # due now is not passed
        (DUE, None, "2025-03-01T12:00:01", True),
        (DUE, "2025-03-01T11:00:00", "2025-03-09T00:00:00", False),  # answered in time
        (DUE, "2025-03-01T13:00:00", "2025-03-09T00:00:00", True),  # answered late
        (DUE, "2025-03-01T13:00:00", "2025-03-01T12:30:00", True),  # overdue, answer to come
    ],
)
def test_breached_at_a_time(
    due: str | None, responded: str | None, now: str, breached: bool
) -> None:
    assert (
        sla.is_breached(at(due) if due else None, at(responded) if responded else None, at(now))
        is breached
    )


def test_marker_says_breached_due_or_responded() -> None:
    due = at(DUE)
    assert sla.marker(due, None, None, due - timedelta(minutes=25)) == ("due", "due in 25 min")
    assert sla.marker(due, None, None, due - timedelta(hours=7, minutes=59, seconds=30)) == (
        "due",
        "due in 7 h 59 min",
    )
    assert sla.marker(due, None, None, due + timedelta(seconds=1)) == ("breached", "SLA breached")
    assert sla.marker(due, None, due, due - timedelta(hours=1)) == ("breached", "SLA breached")
    assert sla.marker(due, due - timedelta(minutes=5), None, due) == ("responded", "responded")
    assert sla.marker(None, None, None, due) is None


# --- helpers ------------------------------------------------------------------------------


def open_ticket(db: Database, tenant_id: int, author: str = "ann") -> int:
    """A support rule and a mention of ``author`` that opens a Ticket (a guest's: 8 h SLA)."""
    if not count(db, tenant_id, ListeningRule):
        make_rule(db, tenant_id, query="broken", support=True)
    result = ingest(db, tenant_id, post(f"my acme is broken, says {author}", author=author))
    with db.session(tenant_id=tenant_id) as session:
        mention = session.get(SocialMention, result.mention_ids[0])
        assert mention is not None and mention.ticket_id is not None
        return mention.ticket_id


def ticket(db: Database, tenant_id: int, ticket_id: int) -> Ticket:
    with db.session(tenant_id=tenant_id) as session:
        found = session.get(Ticket, ticket_id)
        assert found is not None
        session.expunge(found)
        return found


def due_of(db: Database, tenant_id: int, ticket_id: int) -> datetime:
    due = ticket(db, tenant_id, ticket_id).first_response_due_at
    assert due is not None
    return due


def count(db: Database, tenant_id: int, model: Any) -> int:
    with db.session(tenant_id=tenant_id) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, str, dict[str, Any]]]:
    """What reached the live stream (events leave only when their unit of work commits)."""
    seen: list[tuple[int, str, dict[str, Any]]] = []
    monkeypatch.setattr(live, "publish", lambda t, kind, data: seen.append((t, kind, data)))
    return seen


# --- detection and escalation -------------------------------------------------------------


def test_an_overdue_ticket_is_escalated_after_its_due_time_and_not_before(
    database: Database,
) -> None:
    tenant = make_tenant(database)
    ticket_id = open_ticket(database, tenant)
    opened = ticket(database, tenant, ticket_id)
    due = due_of(database, tenant, ticket_id)
    assert due - opened.created_at == pytest.approx(GUEST_SLA, abs=timedelta(seconds=5))
    assert (opened.priority, opened.queue) == (Priority.LOW, "general")

    assert escalation.escalate_tenant(database, tenant, now=due - timedelta(minutes=1)) == []
    assert escalation.escalate_tenant(database, tenant, now=due) == []
    assert ticket(database, tenant, ticket_id).sla_breached_at is None
    late = due + timedelta(seconds=1)
    assert escalation.escalate_tenant(database, tenant, now=late) == [ticket_id]
    flagged = ticket(database, tenant, ticket_id)
    assert flagged.sla_breached_at == late
    assert flagged.priority == Priority.NORMAL  # one step up
    assert flagged.queue == "general"  # no escalation queue in the policy: kept


def test_a_responded_ticket_never_breaches(api: TestClient, database: Database) -> None:
    tenant = tenant_named(database)
    by_status, by_reply = open_ticket(database, tenant, "ann"), open_ticket(database, tenant, "bo")
    # An agent handles the Ticket (pending on the customer): that is its first response.
    assert api.patch(f"/api/tickets/{by_status}", json={"status": "pending"}).status_code == 200
    stopped = ticket(database, tenant, by_status).first_responded_at
    assert stopped is not None
    api.patch(f"/api/tickets/{by_status}", json={"status": "open"})
    api.patch(f"/api/tickets/{by_status}", json={"status": "closed"})
    assert ticket(database, tenant, by_status).first_responded_at == stopped  # once
    # A reply recorded by engage (see tests/publishing/test_engage.py for the real send).
    answered = utcnow()
    with database.session(tenant_id=tenant) as session:
        assert crm.record_first_response(session, by_reply, answered)
        assert not crm.record_first_response(session, by_reply, answered + timedelta(hours=1))
    assert ticket(database, tenant, by_reply).first_responded_at == answered

    far = utcnow() + timedelta(days=30)
    assert escalation.overdue_tenants(database, now=far) == []
    assert escalation.escalate_tenant(database, tenant, now=far) == []
    for ticket_id in (by_status, by_reply):
        body = api.get(f"/api/tickets/{ticket_id}").json()
        assert body["sla_breached"] is False and body["sla_breached_at"] is None
        assert body["first_responded_at"] is not None


def test_escalated_exactly_once_when_the_check_runs_again(
    api: TestClient,
    database: Database,
    receiver: str,
    published: list[tuple[int, str, dict[str, Any]]],
) -> None:
    tenant = tenant_named(database)
    sub = api.post(
        "/api/listening/webhook-subscriptions",
        json={"url": receiver, "events": ["ticket.sla_breached"]},
    )
    assert sub.status_code == 201, sub.text
    ticket_id = open_ticket(database, tenant)
    published.clear()
    late = due_of(database, tenant, ticket_id) + timedelta(minutes=1)

    first = escalation.escalate_tenant(database, tenant, now=late)
    again = escalation.escalate_tenant(database, tenant, now=late + timedelta(minutes=1))
    assert (first, again) == ([ticket_id], [])
    assert ticket(database, tenant, ticket_id).priority == Priority.NORMAL  # one step, not two

    with database.session(tenant_id=tenant) as session:
        (note,) = session.scalars(
            select(Notification).where(Notification.kind == "ticket_sla_breached")
        ).all()
        (row,) = session.scalars(select(WebhookDelivery)).all()
        (logged,) = session.scalars(
            select(AuditLog).where(AuditLog.action == "ticket.sla_breached")
        ).all()
    assert (logged.actor, logged.target_id) == ("system", str(ticket_id))
    assert note.user_id is None  # no assignee: every admin of the tenant
    assert f"#{ticket_id}" in note.message and note.link.startswith("/listening/inbox#mention-")
    assert (row.event, row.event_key, row.status) == (
        "ticket.sla_breached",
        f"ticket.sla_breached:{ticket_id}",
        "delivered",
    )
    ((headers, body),) = WebhookReceiver.seen  # sent once the escalation committed
    sent = json.loads(body)
    assert headers["X-SocialCRM-Event"] == "ticket.sla_breached"
    assert sent["event"] == "ticket.sla_breached"
    assert sent["data"]["ticket_id"] == ticket_id and sent["data"]["priority"] == "normal"
    assert sent["data"]["sla_breached_at"] == late.isoformat()
    kinds = sorted(kind for t, kind, _ in published if t == tenant)
    assert kinds == ["notification", "ticket"]
    live_ticket = next(data for _, kind, data in published if kind == "ticket")
    assert live_ticket["ticket_id"] == ticket_id and live_ticket["sla_breached"] is True


def test_priority_is_capped_and_the_policy_escalation_queue_is_used(database: Database) -> None:
    policy = {"support": {"priorities": {"guest": "urgent"}, "escalation_queue": "escalations"}}
    tenant = make_tenant(database, policy=policy)
    ticket_id = open_ticket(database, tenant)
    assert ticket(database, tenant, ticket_id).priority == Priority.URGENT
    late = due_of(database, tenant, ticket_id) + timedelta(minutes=1)
    assert escalation.escalate_tenant(database, tenant, now=late) == [ticket_id]
    flagged = ticket(database, tenant, ticket_id)
    assert (flagged.priority, flagged.queue) == (Priority.URGENT, "escalations")


def test_a_closed_ticket_is_not_escalated(api: TestClient, database: Database) -> None:
    tenant = tenant_named(database)
    ticket_id = open_ticket(database, tenant)
    with database.session(tenant_id=tenant) as session:  # closed without the status path
        found = session.get(Ticket, ticket_id)
        assert found is not None
        found.status = "closed"  # type: ignore[assignment]
    late = due_of(database, tenant, ticket_id) + timedelta(minutes=1)
    assert escalation.escalate_tenant(database, tenant, now=late) == []


def test_one_tenants_breach_never_touches_or_notifies_another(
    database: Database, published: list[tuple[int, str, dict[str, Any]]]
) -> None:
    tenant_a = make_tenant(database, "SLA A")
    tenant_b = make_tenant(database, "SLA B", policy={"support": {"escalation_queue": "b-esc"}})
    a_ticket = open_ticket(database, tenant_a)
    b_ticket = open_ticket(database, tenant_b)
    with database.session(tenant_id=tenant_b) as session:
        session.add(WebhookSubscription(url="http://127.0.0.1:9/b", secret="s", events=["*"]))
    b_due = due_of(database, tenant_b, b_ticket)
    with database.session(tenant_id=tenant_b) as session:  # B's customer was answered
        crm.record_first_response(session, b_ticket, b_due - timedelta(hours=1))
    b_before = ticket(database, tenant_b, b_ticket)
    b_notes = count(database, tenant_b, Notification)
    b_deliveries = count(database, tenant_b, WebhookDelivery)
    published.clear()
    late = max(due_of(database, tenant_a, a_ticket), b_due) + timedelta(minutes=1)

    assert escalation.overdue_tenants(database, now=late) == [tenant_a]
    assert escalation.escalate_tenant(database, tenant_b, now=late) == []
    with database.session(tenant_id=tenant_b) as session:  # B's session cannot reach A's row
        assert crm.flag_sla_breach(session, a_ticket, at=late, queue="b-esc") is None
    assert escalation.escalate_everywhere(database, now=late) == 1

    assert ticket(database, tenant_a, a_ticket).sla_breached_at == late
    assert ticket(database, tenant_a, a_ticket).queue == "general"  # A has no escalation queue
    b_after = ticket(database, tenant_b, b_ticket)
    assert (b_after.sla_breached_at, b_after.priority, b_after.queue) == (
        None,
        b_before.priority,
        b_before.queue,
    )
    assert count(database, tenant_b, Notification) == b_notes
    assert count(database, tenant_b, WebhookDelivery) == b_deliveries
    assert {t for t, _, _ in published} == {tenant_a}


def test_the_periodic_task_escalates_through_the_queue(database: Database) -> None:
    tenant = make_tenant(database)
    ticket_id = open_ticket(database, tenant)
    with database.session(tenant_id=tenant) as session:  # the due time went by
        found = session.get(Ticket, ticket_id)
        assert found is not None
        found.first_response_due_at = utcnow() - timedelta(minutes=1)
    tasks.check_first_response_slas()  # the test queue runs tasks at once
    assert ticket(database, tenant, ticket_id).sla_breached_at is not None


# --- concurrent checks on committed data -------------------------------------------------


@pytest.fixture
def committed(committed_engine: Engine) -> Iterator[tuple[Database, int, list[int]]]:
    """A tenant with three open social Tickets, committed for real; removed afterwards."""
    db = Database(committed_engine)
    with committed_tenant(db, "SLA race") as tenant:
        yield db, tenant, [open_ticket(db, tenant, author) for author in ("ann", "bo", "cy")]


def test_concurrent_checks_escalate_each_ticket_exactly_once(
    committed: tuple[Database, int, list[int]],
) -> None:
    db, tenant, ticket_ids = committed
    late = max(due_of(db, tenant, t) for t in ticket_ids) + timedelta(minutes=1)
    start = threading.Barrier(4)

    def check() -> list[int]:
        start.wait()
        return escalation.escalate_tenant(db, tenant, now=late)

    with ThreadPoolExecutor(4) as pool:
        runs = list(pool.map(lambda _: check(), range(4)))
    escalated = [t for run in runs for t in run]
    assert sorted(escalated) == sorted(ticket_ids)  # each once, by exactly one of the checks
    assert count(db, tenant, Notification) == len(ticket_ids)
    assert {ticket(db, tenant, t).priority for t in ticket_ids} == {Priority.NORMAL}


# --- what people see ----------------------------------------------------------------------


def test_api_shows_the_clock(api: TestClient, database: Database) -> None:
    tenant = tenant_named(database)
    ticket_id = open_ticket(database, tenant)
    body = api.get(f"/api/tickets/{ticket_id}").json()
    assert body["first_response_due_at"] is not None
    assert (body["first_responded_at"], body["sla_breached_at"], body["sla_breached"]) == (
        None,
        None,
        False,
    )
    late = due_of(database, tenant, ticket_id) + timedelta(minutes=1)
    escalation.escalate_tenant(database, tenant, now=late)
    listed = api.get("/api/tickets").json()["items"][0]
    assert listed["id"] == ticket_id and listed["sla_breached"] is True
    assert datetime.fromisoformat(listed["sla_breached_at"]) == late


def test_the_inbox_marks_breached_and_due_tickets(
    app_client: TestClient, database: Database
) -> None:
    tenant = make_tenant(database, "Tenant A")
    with database.session(system=True) as session:
        owner = session.get(Tenant, tenant)
        assert owner is not None
        create_user(
            session, tenant=owner, email="sam@sla.test", password="pw-123456789", role=Role.AGENT
        )
    overdue, waiting = open_ticket(database, tenant, "ann"), open_ticket(database, tenant, "bo")
    with database.session(tenant_id=tenant) as session:
        found = session.get(Ticket, overdue)
        assert found is not None
        found.first_response_due_at = utcnow() - timedelta(minutes=1)
    escalation.escalate_tenant(database, tenant)
    page = ui_login(app_client, "sam@sla.test", "pw-123456789").get("/listening/inbox").text
    rows = {t: _row_of(page, t) for t in (overdue, waiting)}
    assert 'data-sla="breached"' in rows[overdue] and "SLA breached" in rows[overdue]
    assert 'data-sla="due"' in rows[waiting] and "due in 7 h" in rows[waiting]


def _row_of(page: str, ticket_id: int) -> str:
    marker = f"Ticket #{ticket_id}"
    start = page.rindex("<tr", 0, page.index(marker))
    return page[start : page.index("</tr>", start)]


def test_the_assignee_is_the_one_notified(database: Database) -> None:
    tenant = make_tenant(database)
    agent = make_user(database, tenant, "agent@sla.test", Role.AGENT)
    make_rule(database, tenant, query="broken", support=True, owner_id=agent)
    ticket_id = open_ticket(database, tenant)
    assert ticket(database, tenant, ticket_id).assignee_id == agent
    late = due_of(database, tenant, ticket_id) + timedelta(minutes=1)
    escalation.escalate_tenant(database, tenant, now=late)
    with database.session(tenant_id=tenant) as session:
        note = session.scalars(
            select(Notification).where(Notification.kind == "ticket_sla_breached")
        ).one()
    assert note.user_id == agent


def test_a_ticket_opened_through_the_api_runs_its_tiers_clock(
    api: TestClient, database: Database
) -> None:
    tenant = tenant_named(database)
    with database.session(system=True) as session:
        found = session.get(Tenant, tenant)
        assert found is not None
        found.policy = {**found.policy, "support": {"first_response_minutes": {"gold": 15}}}
    gold = api.post("/api/contacts", json={"name": "Gia", "tier": "gold"}).json()["id"]
    made: dict[str, Any] = {}
    for extra, expected in (({"contact_id": gold}, timedelta(minutes=15)), ({}, GUEST_SLA)):
        created = api.post("/api/tickets", json={"subject": "Help", **extra})
        assert created.status_code == 201, created.text
        made = created.json()
        due = datetime.fromisoformat(made["first_response_due_at"])
        opened = datetime.fromisoformat(made["created_at"])
        assert due - opened == pytest.approx(expected, abs=timedelta(seconds=5))
    handled = api.post("/api/tickets", json={"subject": "Sorted by phone", "status": "closed"})
    assert handled.json()["first_response_due_at"] is None
    late = datetime.fromisoformat(made["first_response_due_at"]) + timedelta(seconds=1)
    assert made["id"] in escalation.escalate_tenant(database, tenant, now=late)

"""The notifications centre: a person's notices only, read/unread, open, dismiss; stale notices
clear themselves (the thing resolved: an account reconnected or disconnected, a Ticket
answered; or older than SOCIALCRM_NOTIFICATION_MAX_AGE_DAYS)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import httpx
import pytest
import time_machine
from fastapi.testclient import TestClient
from sqlalchemy import select

from socialcrm.connections import tokens
from socialcrm.connections.models import AccountStatus, SocialAccount
from socialcrm.core import notify
from socialcrm.core.db import Database, utcnow
from socialcrm.core.notify import Notification, Subject
from socialcrm.core.tasks import clear_stale_notifications
from socialcrm.crm import service as crm
from socialcrm.crm.models import Ticket
from socialcrm.listening import escalation
from tests.admin.conftest import People, post_form
from tests.connections.flow import connect, register_app

Login = Callable[[str], TestClient]


def add_notice(
    database: Database, tenant_id: int, user_id: int | None, message: str, **extra: object
) -> int:
    with database.session(tenant_id=tenant_id) as session:
        note = notify.notify(session, user_id=user_id, kind="test", message=message, **extra)  # type: ignore[arg-type]
        session.flush()
        return note.id


def notices(database: Database, tenant_id: int) -> list[Notification]:
    with database.session(tenant_id=tenant_id) as session:
        rows = list(session.scalars(select(Notification).order_by(Notification.id)))
        session.expunge_all()
        return rows


def test_a_person_sees_their_own_notices_and_an_admin_also_those_for_every_admin(
    database: Database, people: People, login: Login
) -> None:
    add_notice(database, people.tenant_a, people.agent, "for sam")
    add_notice(database, people.tenant_a, None, "for every admin")
    add_notice(database, people.tenant_a, people.marketer, "for mia")
    add_notice(database, people.tenant_b, None, "for tenant B's admins")

    sam = login("sam@a.test").get("/notifications").text
    assert "for sam" in sam and "for every admin" not in sam and "for mia" not in sam
    ada = login("ada@a.test").get("/notifications").text
    assert "for every admin" in ada and "for sam" not in ada
    assert "tenant B" not in ada


def test_unread_count_read_unread_and_the_unread_filter(
    database: Database, people: People, login: Login
) -> None:
    first = add_notice(database, people.tenant_a, people.agent, "first")
    add_notice(database, people.tenant_a, people.agent, "second")
    sam = login("sam@a.test")
    assert 'class="badge">2<' in sam.get("/contacts").text

    answer = post_form(sam, "/notifications", f"/notifications/{first}/read?show=unread")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/notifications?show=unread&done=read"
    page = sam.get(answer.headers["location"]).text
    assert "Marked as read." in page
    assert "second" in page and "first" not in page  # the unread view
    assert 'class="badge">1<' in page

    post_form(sam, "/notifications", f"/notifications/{first}/unread")
    assert 'class="badge">2<' in sam.get("/contacts").text

    done = post_form(sam, "/notifications", "/notifications/read-all")
    assert done.status_code == 303
    assert 'class="badge"' not in sam.get("/contacts").text
    assert all(n.read_at is not None for n in notices(database, people.tenant_a))


def test_open_marks_read_and_goes_to_the_thing_only_inside_the_site(
    database: Database, people: People, login: Login
) -> None:
    inside = add_notice(database, people.tenant_a, people.agent, "x", link="/connections#a-1")
    outside = add_notice(database, people.tenant_a, people.agent, "y", link="//evil.test/x")
    sam = login("sam@a.test")
    answer = post_form(sam, "/notifications", f"/notifications/{inside}/open")
    assert (answer.status_code, answer.headers["location"]) == (303, "/connections#a-1")
    answer = post_form(sam, "/notifications", f"/notifications/{outside}/open")
    assert not answer.headers["location"].startswith("//")
    assert all(n.read_at is not None for n in notices(database, people.tenant_a))


def test_dismiss_deletes_and_nobody_touches_someone_elses_notice(
    database: Database, people: People, login: Login
) -> None:
    mine = add_notice(database, people.tenant_a, people.agent, "mine")
    theirs = add_notice(database, people.tenant_a, people.marketer, "theirs")
    other_tenant = add_notice(database, people.tenant_b, None, "B's")
    sam = login("sam@a.test")
    for note_id in (theirs, other_tenant):
        for action in ("read", "dismiss", "open"):
            answer = post_form(sam, "/notifications", f"/notifications/{note_id}/{action}")
            assert answer.status_code == 404, (note_id, action)
    assert post_form(sam, "/notifications", f"/notifications/{mine}/dismiss").status_code == 303
    assert [n.message for n in notices(database, people.tenant_a)] == ["theirs"]
    assert [n.read_at for n in notices(database, people.tenant_b)] == [None]
    # An admin of B cannot reach A's admin notices either.
    for_a_admins = add_notice(database, people.tenant_a, None, "A's admins")
    bob = login("bob@b.test")
    assert (
        post_form(bob, "/notifications", f"/notifications/{for_a_admins}/dismiss").status_code
        == 404
    )


def test_an_action_needs_the_form_token(database: Database, people: People, login: Login) -> None:
    note = add_notice(database, people.tenant_a, people.agent, "x")
    sam = login("sam@a.test")
    answer = sam.post(f"/notifications/{note}/dismiss", data={"csrf": "forged"})
    assert answer.status_code == 403
    assert len(notices(database, people.tenant_a)) == 1


def test_the_done_code_cannot_write_the_banner(people: People, login: Login) -> None:
    page = login("sam@a.test").get("/notifications?done=Your+account+is+locked").text
    assert "Your account is locked" not in page


def test_notices_older_than_the_maximum_age_are_hidden_then_deleted(
    database: Database, people: People, login: Login
) -> None:
    with time_machine.travel(utcnow() - timedelta(days=31), tick=False):
        add_notice(database, people.tenant_a, people.agent, "last month")
        add_notice(database, people.tenant_b, None, "B, last month")
    add_notice(database, people.tenant_a, people.agent, "today")
    sam = login("sam@a.test")
    page = sam.get("/notifications").text
    assert "today" in page and "last month" not in page
    assert 'class="badge">1<' in page

    assert clear_stale_notifications.call_local() == 2  # every tenant's
    assert [n.message for n in notices(database, people.tenant_a)] == ["today"]
    assert notices(database, people.tenant_b) == []


def test_resolve_clears_only_that_things_notices_of_its_tenant(
    database: Database, people: People
) -> None:
    subject = Subject("ticket", 7)
    add_notice(database, people.tenant_a, None, "A ticket 7", subject=subject)
    add_notice(database, people.tenant_a, None, "A ticket 8", subject=Subject("ticket", 8))
    add_notice(database, people.tenant_b, None, "B ticket 7", subject=subject)
    with database.session(tenant_id=people.tenant_a) as session:
        assert notify.resolve(session, subject) == 1
    assert [n.message for n in notices(database, people.tenant_a)] == ["A ticket 8"]
    assert [n.message for n in notices(database, people.tenant_b)] == ["B ticket 7"]


def test_the_first_response_clears_the_overdue_ticket_notice(
    database: Database, people: People
) -> None:
    with database.session(tenant_id=people.tenant_a) as session:
        ticket = crm.create(session, Ticket, {"subject": "Broken order"})
        assert ticket.first_response_due_at is not None
        late = ticket.first_response_due_at + timedelta(minutes=1)
        assert escalation.escalate_ticket(session, people.tenant_a, ticket.id, now=late, queue=None)
        ticket_id = ticket.id
    (note,) = notices(database, people.tenant_a)
    assert (note.kind, note.subject_type, note.subject_id) == (
        "ticket_sla_breached",
        "ticket",
        str(ticket_id),
    )
    with database.session(tenant_id=people.tenant_a) as session:
        crm.update(session, Ticket, ticket_id, {"status": "closed"})
    assert notices(database, people.tenant_a) == []


@pytest.mark.usefixtures("sandbox")
def test_reconnecting_or_disconnecting_clears_the_reconnect_notice(
    api: TestClient, database: Database, sandbox: object
) -> None:
    register_app(api, "x")
    account_id = int(connect(api, "x", "ada")["id"])  # type: ignore[arg-type]
    tenant_id = _break_grant(database, sandbox, account_id)
    assert [n.kind for n in notices(database, tenant_id)] == ["reconnect_required"]

    connect(api, "x", "ada")  # the owner reconnects the same account
    assert notices(database, tenant_id) == []

    _break_grant(database, sandbox, account_id)
    assert len(notices(database, tenant_id)) == 1
    assert api.delete(f"/api/connections/{account_id}").status_code == 200
    assert notices(database, tenant_id) == []


def _break_grant(database: Database, sandbox: object, account_id: int) -> int:
    """The user revokes our app at the network: the next call finds out."""
    from tests.connections.test_tokens import _x_client_auth, whoami

    with database.session(system=True) as session:
        account = session.get(SocialAccount, account_id)
        assert account is not None
        tenant_id, refresh = account.tenant_id, account.refresh_token
    httpx.post(
        f"{sandbox.url}/x/2/oauth2/revoke",  # type: ignore[attr-defined]
        data={"token": refresh, "client_id": "ignored"},
        auth=_x_client_auth(),
    ).raise_for_status()
    with pytest.raises(Exception):  # noqa: B017 - the account's state is asserted instead
        tokens.with_account(database, tenant_id, account_id, whoami)
    with database.session(system=True) as session:
        assert session.get(SocialAccount, account_id).status == AccountStatus.ERROR  # type: ignore[union-attr]
    return tenant_id

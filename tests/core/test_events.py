"""core/events: when each handler runs, what a rollback drops, and the one-place rule."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from socialcrm.core import events
from socialcrm.core.db import Database
from socialcrm.core.events import When
from socialcrm.crm.events import ContactChanged
from socialcrm.crm.models import Contact
from tests.conftest import make_tenant

SRC = Path(__file__).parents[2] / "src" / "socialcrm"


@dataclass(frozen=True, slots=True)
class Happened:
    what: str


seen: list[tuple[str, str]] = []


def _now(_session: Session, e: Happened) -> None:
    seen.append(("now", e.what))


def _before(_session: Session, e: Happened) -> None:
    seen.append(("before", e.what))


def _after(_session: Session, e: Happened) -> None:
    seen.append(("after", e.what))


events.subscribe(Happened, _now, When.NOW)
events.subscribe(Happened, _before, When.BEFORE_COMMIT)
events.subscribe(Happened, _after, When.AFTER_COMMIT)


@pytest.fixture(autouse=True)
def _clear() -> None:
    seen.clear()


def test_handlers_run_now_before_and_after_the_commit(database: Database) -> None:
    with database.session(system=True) as session:
        events.emit(session, Happened("a"))
        events.emit(session, Happened("a"))  # equal and still waiting: delivered once
        assert seen == [("now", "a"), ("now", "a")]
        with session.begin_nested():
            events.emit(session, Happened("b"))
        assert ("before", "b") not in seen and ("after", "b") not in seen  # only a savepoint
    assert seen[2:] == [
        ("now", "b"),
        ("before", "a"),
        ("before", "b"),
        ("after", "a"),
        ("after", "b"),
    ]


def test_a_rollback_drops_what_waits(database: Database) -> None:
    with pytest.raises(RuntimeError), database.session(system=True) as session:
        events.emit(session, Happened("lost"))
        ran: list[str] = []
        events.after_commit(session, lambda: ran.append("ran"))
        raise RuntimeError("boom")
    assert seen == [("now", "lost")] and not ran
    with database.session(system=True):
        pass
    assert seen == [("now", "lost")]


def test_a_savepoint_rolled_back_keeps_the_unit_of_work(database: Database) -> None:
    ran: list[str] = []
    with database.session(system=True) as session:
        try:
            with session.begin_nested():
                events.after_commit(session, lambda: ran.append("kept"))
                raise RuntimeError("undo the savepoint")
        except RuntimeError:
            pass
    assert ran == ["kept"]


def test_a_flushed_contact_emits_contact_changed_whoever_writes_it(database: Database) -> None:
    with database.session(system=True) as session:
        tenant_id = make_tenant(session, name="Events").id
    changes: list[ContactChanged] = []

    def note(_session: Session, change: ContactChanged) -> None:
        changes.append(change)

    events.subscribe(ContactChanged, note, When.NOW)
    try:
        with database.session(tenant_id=tenant_id) as session:
            contact = Contact(tenant_id=tenant_id, name="Ada", emails=["ada@example.com"])
            session.add(contact)
            session.flush()
            contact.handles = [{"network": "x", "handle": "ada"}]
            session.flush()
            contact.handles = [{"network": "x", "handle": "ada"}]  # the same value: no change
            session.flush()
    finally:
        events._handlers[ContactChanged].remove((note, When.NOW))
    assert [c.created for c in changes] == [True, False]
    assert "handles" in changes[1].fields and changes[1].previous["handles"] == []


def test_no_session_listener_outside_core() -> None:
    pattern = re.compile(r"listens_for|event\.listen\(")
    offenders = [
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if "core" not in path.relative_to(SRC).parts[:1] and pattern.search(path.read_text())
    ]
    assert offenders == []

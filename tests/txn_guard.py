"""A test-time guard: no provider call while a write transaction is open.

A unit of work that has written holds SQLite's one write lock (and PostgreSQL row locks) until
it ends; a network call made meanwhile keeps everybody else waiting, and on SQLite turns into
"database is locked" after 30 s. The guard instruments both sides while a test runs:

- the database side: a ``Session`` is *writing* from its first write (a flush that changes a
  row, or an INSERT/UPDATE/DELETE it executes) until its transaction ends;
- the network side: every request the provider adapters send (``httpx.AsyncClient.send``,
  the one door of their HTTP) is checked against the sessions writing at that moment in the
  thread that asked for it (the adapters run on the provider runtime's loop thread, which
  tells whose call it runs: ``runtime.caller_thread``; another thread's writer, as in the
  racing-worker tests, is not this call's doing). ``test_txn_guard`` proves the guard still
  sees a call made through the production gateway.

Every test of every suite runs under it (autouse, from ``tests/conftest.py``), on SQLite and
PostgreSQL alike.

The tests share one database connection (a rolled-back outer transaction), so the state is
kept per ``Session``, not per connection: the check is the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction

from socialcrm.providers import runtime

WRITES = ("insert", "update", "delete")
T = TypeVar("T")


def _our_frames() -> str:
    """Where in the product this happened: the project's frames of the current stack."""
    frames = [f for f in traceback.extract_stack()[:-2] if "/src/socialcrm/" in f.filename]
    return " <- ".join(
        f"{f.filename.rsplit('/socialcrm/', 1)[-1]}:{f.lineno} {f.name}"
        for f in reversed(frames[-6:])
    )


@dataclass(frozen=True, slots=True)
class Violation:
    request: str
    called_from: str
    written_at: tuple[str, ...]

    def __str__(self) -> str:
        writes = "\n".join(
            f"    open write transaction first written at: {w}" for w in self.written_at
        )
        return f"  {self.request}\n    called from: {self.called_from}\n{writes}"


@dataclass
class WriteTransactionGuard:
    """Sessions writing right now (in every thread), and the provider calls made meanwhile."""

    # id(session) -> the threads it wrote from, and where it first wrote
    writing: dict[int, tuple[set[int], str]] = field(default_factory=dict)
    violations: list[Violation] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # thread -> where it last handed a coroutine to the provider runtime (the loop thread's
    # own stack shows only the adapter's frames)
    submitted: dict[int, str] = field(default_factory=dict)

    def wrote(self, session: Session) -> None:
        with self.lock:
            threads, _site = self.writing.setdefault(id(session), (set(), _our_frames()))
            threads.add(threading.get_ident())

    def committed(self, session: Session) -> None:
        """The outermost commit happened: the locks are released (jobs queued for after the
        commit run from this event, before the transaction object itself ends). The event
        fires for a savepoint's release too, which releases nothing."""
        if not session.in_nested_transaction():
            with self.lock:
                self.writing.pop(id(session), None)

    def ended(self, session: Session, transaction: SessionTransaction) -> None:
        if transaction.parent is None:
            with self.lock:
                self.writing.pop(id(session), None)

    def after_flush(self, session: Session, _context: Any) -> None:
        if session.new or session.deleted or any(session.is_modified(o) for o in session.dirty):
            self.wrote(session)

    def orm_execute(self, state: ORMExecuteState) -> None:
        statement = state.statement
        kind = str(getattr(statement, "text", "")).lstrip()[:6].lower()
        if state.is_insert or state.is_update or state.is_delete or kind in WRITES:
            self.wrote(state.session)

    def provider_call(self, request: httpx.Request) -> None:
        me = runtime.caller_thread() or threading.get_ident()
        with self.lock:
            open_writes = tuple(site for threads, site in self.writing.values() if me in threads)
        if open_writes:
            target = f"{request.method} {str(request.url).partition('?')[0]}"
            called_from = _our_frames()
            if me in self.submitted:
                called_from += " <- " + self.submitted[me]
            self.violations.append(Violation(target, called_from, open_writes))

    def report(self) -> str:
        return (
            f"{len(self.violations)} provider call(s) made while a write transaction was open "
            "(read, close the unit of work, call the network, then record in a new one):\n"
            + "\n".join(str(v) for v in self.violations)
        )


_watching: list[WriteTransactionGuard] = []  # nested watches: the innermost one judges


@contextmanager
def provider_calls_watched() -> Iterator[WriteTransactionGuard]:
    """Instrument sessions and the adapters' HTTP for the duration; the caller judges (a watch
    inside another, as in ``test_txn_guard``, takes the calls made meanwhile)."""
    guard = WriteTransactionGuard()
    listeners = (
        ("after_flush", guard.after_flush),
        ("do_orm_execute", guard.orm_execute),
        ("after_transaction_end", guard.ended),
    )
    for name, listener in listeners:
        event.listen(Session, name, listener)
    event.listen(Session, "after_commit", guard.committed, insert=True)  # before the queue's
    original = httpx.AsyncClient.send

    async def send(self: httpx.AsyncClient, request: httpx.Request, **kwargs: Any) -> Any:
        if _watching[-1] is guard:
            guard.provider_call(request)
        return await original(self, request, **kwargs)

    original_run = runtime.run

    def run(coroutine: Coroutine[Any, Any, T], *, timeout: float | None) -> T:
        guard.submitted[threading.get_ident()] = _our_frames()
        return original_run(coroutine, timeout=timeout)

    httpx.AsyncClient.send = send  # type: ignore[method-assign]
    runtime.run = run
    _watching.append(guard)
    try:
        yield guard
    finally:
        _watching.remove(guard)
        runtime.run = original_run
        httpx.AsyncClient.send = original  # type: ignore[method-assign]
        for name, listener in listeners:
            event.remove(Session, name, listener)
        event.remove(Session, "after_commit", guard.committed)


@pytest.fixture(autouse=True)
def no_provider_call_in_write_transaction() -> Iterator[None]:
    """Each test fails on such a call (imported by ``tests/conftest.py``: every suite)."""
    with provider_calls_watched() as guard:
        yield
    if guard.violations:
        pytest.fail(guard.report(), pytrace=False)

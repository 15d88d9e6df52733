"""Domain events, and the one place the unit of work is watched (SQLAlchemy Session events).

An event is a frozen dataclass a domain declares (``crm/events.py``: ``ContactChanged``, ...).
A handler subscribes to one event type and says when it runs (``subscribe``):

- ``NOW``: as the event is emitted, inside the emitting unit of work (same session). Events
  emitted by change tracking (below) are emitted inside a flush: such a handler writes with
  Core statements or ``session.add``, not another flush.
- ``BEFORE_COMMIT``: once the unit of work is about to commit, inside it (what the handler
  writes commits or rolls back with the change). Everything pending is flushed first.
- ``AFTER_COMMIT``: once the unit of work has committed; never after a rollback.

An event equal to one already waiting for the same handler is not queued again (hashable
events only). Savepoints are part of their unit of work: releasing one commits nothing, and
rolling one back drops nothing (a handler re-reads what it needs).

Change tracking: ``track(Model, written=..., deleting=...)`` declares which events a flushed
row emits, so no writer (a use case, the demo loader, a bulk import, a test) can forget one.
``written`` sees each created or changed row after the flush (its ``Change``: created, the
columns that changed and their previous values); ``deleting`` sees each row about to be
deleted, before the flush (the row and what refers to it still exist).

``after_commit(session, action)`` is the one after-commit buffer (the queue's hand-over, live
events, cache invalidation use it); ``unit_state`` keeps per-unit-of-work state that goes
when the unit of work ends. Subscriptions are made in one place, ``socialcrm.wiring``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, TypeVar

import structlog
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

log = structlog.get_logger(__name__)

E = TypeVar("E")
M = TypeVar("M")
T = TypeVar("T")

Handler = Callable[[Session, Any], None]


class When(Enum):
    NOW = "now"
    BEFORE_COMMIT = "before_commit"
    AFTER_COMMIT = "after_commit"


@dataclass(frozen=True, slots=True)
class Change:
    """What a flush did to one row: ``created``, or the columns whose value changed
    (``previous``: their values before, for a row that existed)."""

    created: bool
    fields: frozenset[str]
    previous: Mapping[str, Any] = field(default_factory=dict)


_handlers: dict[type, list[tuple[Handler, When]]] = {}
_written: dict[type, Callable[[Any, Change], Iterable[object]]] = {}
_deleting: dict[type, Callable[[Any], Iterable[object]]] = {}

_STATE = "socialcrm.unit_of_work"


def subscribe(event_type: type[E], handler: Callable[[Session, E], None], when: When) -> None:
    """Run ``handler(session, event)`` for every ``event_type`` emitted. Idempotent."""
    entries = _handlers.setdefault(event_type, [])
    if (handler, when) not in entries:
        entries.append((handler, when))


def subscribers() -> dict[type, list[tuple[Handler, When]]]:
    """Every subscription (for the architecture page and tests)."""
    return {kind: list(entries) for kind, entries in _handlers.items()}


def track(
    model: type[M],
    *,
    written: Callable[[M, Change], Iterable[object]] | None = None,
    deleting: Callable[[M], Iterable[object]] | None = None,
) -> None:
    """Declare the events a flushed ``model`` row emits (see the module's docstring)."""
    if written is not None:
        _written[model] = written
    if deleting is not None:
        _deleting[model] = deleting


def emit(session: Session, occurred: object) -> None:
    """Hand ``occurred`` to its subscribers: now, or queued in the unit of work."""
    for handler, when in _handlers.get(type(occurred), ()):
        if when is When.NOW:
            handler(session, occurred)
            continue
        unit = _unit(session)
        target = unit.before_commit if when is When.BEFORE_COMMIT else unit.after_commit
        _queue(target, unit.seen, handler, occurred)


def after_commit(session: Session, action: Callable[[], None]) -> None:
    """Run ``action()`` once ``session``'s unit of work has committed; forget it on rollback."""
    _unit(session).after_commit.append((lambda _s, _e: action(), None))


def unit_state(session: Session, key: str, factory: Callable[[], T]) -> T:
    """A value that lives as long as ``session``'s unit of work (commit or rollback ends it)."""
    state = _unit(session).state
    if key not in state:
        state[key] = factory()
    value: T = state[key]
    return value


# --- the unit of work's buffers -----------------------------------------------------------


@dataclass
class _Unit:
    before_commit: list[tuple[Handler, object]] = field(default_factory=list)
    after_commit: list[tuple[Handler, object]] = field(default_factory=list)
    seen: set[tuple[Handler, Hashable]] = field(default_factory=set)
    state: dict[str, Any] = field(default_factory=dict)


def _unit(session: Session) -> _Unit:
    unit = session.info.get(_STATE)
    if unit is None:
        unit = session.info[_STATE] = _Unit()
    assert isinstance(unit, _Unit)
    return unit


def _queue(
    target: list[tuple[Handler, object]],
    seen: set[tuple[Handler, Hashable]],
    handler: Handler,
    occurred: object,
) -> None:
    """Append unless an equal event waits for the same handler."""
    key = (handler, occurred)
    try:
        if key in seen:
            return
        seen.add(key)
    except TypeError:  # an unhashable event is always queued
        pass
    target.append(key)


# --- the Session listeners (the only ones outside core/db.py) ------------------------------


@event.listens_for(Session, "before_flush")
def _before_flush(session: Session, _ctx: Any, _instances: Any) -> None:
    if not _deleting:
        return
    for obj in list(session.deleted):
        describe = _deleting.get(type(obj))
        if describe is not None:
            for occurred in describe(obj):
                emit(session, occurred)


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _ctx: Any) -> None:
    if not _written:
        return
    for obj in list(session.new):
        describe = _written.get(type(obj))
        if describe is not None:
            for occurred in describe(obj, _created(obj)):
                emit(session, occurred)
    for obj in list(session.dirty):
        describe = _written.get(type(obj))
        if describe is None:
            continue
        change = _changed(obj)
        if change.fields:
            for occurred in describe(obj, change):
                emit(session, occurred)


def _created(obj: object) -> Change:
    state = inspect(obj)
    names = frozenset(
        attr.key for attr in state.mapper.column_attrs if state.attrs[attr.key].history.added
    )
    return Change(created=True, fields=names)


def _changed(obj: object) -> Change:
    state = inspect(obj)
    previous: dict[str, Any] = {}
    for attr in state.mapper.column_attrs:
        history = state.attrs[attr.key].history
        if history.added and list(history.added) != list(history.deleted or []):
            previous[attr.key] = history.deleted[0] if history.deleted else None
    return Change(created=False, fields=frozenset(previous), previous=previous)


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint is released: the unit of work goes on
    while True:
        session.flush()  # what is pending emits its events (under its own tenant) first
        unit = session.info.get(_STATE)
        if not isinstance(unit, _Unit) or not unit.before_commit:
            return
        pending, unit.before_commit = unit.before_commit, []
        for handler, occurred in pending:
            with contextlib.suppress(TypeError):  # delivered: an equal one may come again
                unit.seen.discard((handler, occurred))
            handler(session, occurred)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint was released: nothing is committed yet
    unit = session.info.pop(_STATE, None)
    if not isinstance(unit, _Unit) or not unit.after_commit:
        return
    failure: Exception | None = None
    for handler, occurred in unit.after_commit:
        try:
            handler(session, occurred)
        except Exception as exc:  # the others still run; the first failure is raised after
            log.warning("after_commit_failed", error_type=type(exc).__name__)
            failure = failure or exc
    if failure is not None:
        raise failure


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    # A savepoint rolled back keeps the unit of work (and what it queued); only the whole unit
    # of work drops it.
    if not session.in_nested_transaction():
        session.info.pop(_STATE, None)

"""Engine, sessions and the structural tenant guard.

Every model that belongs to a tenant inherits ``TenantScoped``. A session opened for a tenant
adds ``tenant_id = :scope_tenant_id`` to every ORM query it runs (SELECT, UPDATE, DELETE; joins,
aliases and relationship loads included), refuses ORM bulk UPDATE by primary key (which takes
no such criteria), and stamps new rows; a session opened for no tenant refuses to touch tenant
data unless it is a ``system`` session (migrations, periodic fan-out). Forgetting the tenant
filter is therefore impossible.
"""

from __future__ import annotations

import itertools
import os
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import (
    JSON,
    BindParameter,
    ColumnElement,
    Connection,
    DateTime,
    Engine,
    ForeignKey,
    Integer,
    MetaData,
    bindparam,
    create_engine,
    event,
)
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    ORMExecuteState,
    Session,
    mapped_column,
    sessionmaker,
    with_loader_criteria,
)
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on SQLite and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


class TenantScoped:
    """Mixin for every table that belongs to one tenant."""

    tenant_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )


class TenantScopeMissing(RuntimeError):
    """Tenant data was touched from a session that belongs to no tenant."""


def normalise_url(url: str) -> str:
    """Let users write ``postgresql://``; we use psycopg 3."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


# Connections kept open between requests. Beyond the pool each request opens and closes its
# own connection (a connect, and on SQLite its pragmas, every time), so the pool covers the
# concurrency a busy server sees; the overflow caps a process at the thread pool's 40.
POOL_SIZE, POOL_OVERFLOW = 20, 20


def make_engine(url: str, *, statement_timeout_s: float | None = None, **kwargs: Any) -> Engine:
    """The engine of ``url`` with every wait bounded (``SOCIALCRM_DB_*_TIMEOUT_S``): taking a
    pooled connection, connecting, and on PostgreSQL each statement, server-side
    (``statement_timeout``) and client-side (a server that stops answering). Migrations pass
    ``statement_timeout_s=0`` (no limit)."""
    from socialcrm.core.settings import get_settings

    settings = get_settings()
    url = normalise_url(url)
    pool = {
        "pool_size": POOL_SIZE,
        "max_overflow": POOL_OVERFLOW,
        "pool_timeout": settings.db_pool_timeout_s,
    }
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            **(kwargs if ":memory:" in url else pool | kwargs),
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "savepoint", _sqlite_savepoint)
        return engine
    engine = create_engine(url, pool_pre_ping=True, **(pool | kwargs))
    limit_s = (
        settings.db_statement_timeout_s if statement_timeout_s is None else statement_timeout_s
    )
    _bound_waits(engine, settings.db_connect_timeout_s, limit_s)
    return engine


def _bound_waits(engine: Engine, connect_timeout_s: int, statement_timeout_s: float) -> None:
    """PostgreSQL: libpq's ``connect_timeout``, the server's ``statement_timeout``, and a
    client-side limit on every call (statement, ping, commit, rollback) a little longer than
    the server's, for a server that accepts and then says nothing (frozen, or a dead proxy in
    between): there the server's own timeout never fires and the call would wait forever."""

    @event.listens_for(engine, "do_connect")
    def _timeouts(_dialect: Any, _record: Any, _cargs: Any, cparams: dict[str, Any]) -> None:
        cparams.setdefault("connect_timeout", connect_timeout_s)
        if statement_timeout_s > 0:
            setting = f"-c statement_timeout={int(statement_timeout_s * 1000)}"
            cparams["options"] = f"{cparams.get('options', '')} {setting}".strip()

    if statement_timeout_s > 0:
        silence.guard(engine, statement_timeout_s + SILENCE_GRACE_S)


# How much longer than the server's statement_timeout a call may wait for any answer at all.
SILENCE_GRACE_S = 2.0


class SilenceWatch:
    """Ends PostgreSQL calls that get no answer in time, from one daemon thread.

    psycopg has no client-side timeout: a call waits on its socket until the server answers.
    Each call of the dialect (execute, ping, commit, rollback) registers its connection's
    socket with a deadline; the thread shuts down the socket of a call past its deadline, so
    the call fails at once as a lost connection (the pool then discards it), which the API
    answers with 503 ``upstream_unavailable``.
    """

    TICK_S = 0.25

    def __init__(self) -> None:
        self._calls: dict[int, tuple[float, int]] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count()
        self._thread: threading.Thread | None = None

    def guard(self, engine: Engine, limit_s: float) -> None:
        dialect = engine.dialect
        for name in ("do_execute", "do_executemany", "do_execute_no_params"):
            original = getattr(dialect, name)

            def on_cursor(cursor: Any, *args: Any, _call: Any = original, **kw: Any) -> Any:
                token = self._arm(cursor.connection, limit_s)
                try:
                    return _call(cursor, *args, **kw)
                finally:
                    self._disarm(token)

            setattr(dialect, name, on_cursor)
        for name in ("do_commit", "do_rollback", "do_ping"):
            original = getattr(dialect, name)

            def on_connection(connection: Any, _call: Any = original) -> Any:
                token = self._arm(connection, limit_s)
                try:
                    return _call(connection)
                finally:
                    self._disarm(token)

            setattr(dialect, name, on_connection)

    def _arm(self, connection: Any, limit_s: float) -> int | None:
        try:
            fd = int(connection.pgconn.socket)
        except Exception:  # closed or broken already: the call fails on its own
            return None
        token = next(self._ids)
        with self._lock:
            self._calls[token] = (time.monotonic() + limit_s, fd)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="db-silence", daemon=True)
                self._thread.start()
        return token

    def _disarm(self, token: int | None) -> None:
        if token is not None:
            with self._lock:
                self._calls.pop(token, None)

    def _run(self) -> None:
        while True:
            time.sleep(self.TICK_S)
            now = time.monotonic()
            with self._lock:  # a registered call has not returned: its socket is still open
                for token, (deadline, fd) in list(self._calls.items()):
                    if deadline <= now:
                        del self._calls[token]
                        _shut_down(fd)


def _shut_down(fd: int) -> None:
    try:
        with socket.socket(fileno=os.dup(fd)) as sock:
            sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    structlog.get_logger(__name__).warning("database_silent", action="connection closed")


silence = SilenceWatch()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_savepoint(conn: Connection, _name: str) -> None:
    """pysqlite begins a transaction only before a write, so reads run in autocommit and
    concurrent writers wait for each other (busy_timeout) instead of failing to upgrade a
    stale read snapshot. A SAVEPOINT outside a transaction would itself become the
    transaction, and its RELEASE would commit early: open the real one first, IMMEDIATE
    because a savepoint guards a write."""
    dbapi_connection = conn.connection.dbapi_connection
    if dbapi_connection is not None and not dbapi_connection.in_transaction:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


# Primary keys are 32-bit on PostgreSQL (SERIAL); API ids beyond are refused as input errors.
MAX_ID = 2**31 - 1


class Database:
    """One engine and its session factory (tests bind it to an outer transaction)."""

    def __init__(self, engine: Engine, bind: Connection | None = None) -> None:
        self.engine = engine
        if bind is None:
            self.factory = sessionmaker(bind=engine, expire_on_commit=False)
        else:
            self.factory = sessionmaker(
                bind=bind, expire_on_commit=False, join_transaction_mode="create_savepoint"
            )

    @contextmanager
    def session(self, *, tenant_id: int | None = None, system: bool = False) -> Iterator[Session]:
        """A unit of work: commits once at the end, rolls back on error."""
        session = self.factory()
        session.info["tenant_id"] = tenant_id
        session.info["system"] = system
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()


# The tenant of a statement is a bound parameter, given with each execution (never a value
# built into the statement): a statement compiles once, and is found in the compiled cache,
# whatever the tenant. A statement that carries the criteria but not the parameter fails
# ("a value is required for bind parameter"), it never runs unscoped.
_SCOPE: BindParameter[int] = bindparam("scope_tenant_id")
SCOPE_PARAM = _SCOPE.key


def _tenant_criterion(cls: type[TenantScoped]) -> ColumnElement[bool]:
    criterion: ColumnElement[bool] = cls.tenant_id == _SCOPE
    return criterion


# One option for every tenant and statement. Called once per mapped class (SQLAlchemy caches
# the criterion of each); ``include_aliases`` covers aliased entities, and the option travels
# with loaded objects to their relationship loads (``propagate_to_loaders``).
_TENANT_CRITERIA = with_loader_criteria(
    TenantScoped, _tenant_criterion, include_aliases=True, track_closure_variables=False
)


@event.listens_for(Session, "do_orm_execute")
def _scope_to_tenant(state: ORMExecuteState) -> None:
    """Every ORM SELECT, UPDATE and DELETE of a tenant session gets the tenant criteria and
    the tenant's id as its parameter; a session of no tenant refuses tenant data unless it is
    a system session."""
    if state.is_insert:
        _check_inserted_tenant(state)
        return
    if not (state.is_select or state.is_update or state.is_delete):
        return
    tenant_id = state.session.info.get("tenant_id")
    if tenant_id is None:
        if state.session.info.get("system"):
            return
        if state.is_column_load or state.is_relationship_load:
            return
        if any(issubclass(m.class_, TenantScoped) for m in state.all_mappers):
            raise TenantScopeMissing("tenant data queried without a tenant")
        return
    params = state.parameters
    if params is not None and not isinstance(params, Mapping):  # several parameter sets
        if any(issubclass(m.class_, TenantScoped) for m in state.all_mappers):
            # ORM bulk UPDATE by primary key: the ORM applies no loader criteria to it.
            raise TenantScopeMissing("bulk UPDATE/DELETE of tenant data by primary key")
        return  # Core statement on tables: no loader criteria to feed
    state.parameters = {**params, SCOPE_PARAM: tenant_id} if params else {SCOPE_PARAM: tenant_id}
    # Column and relationship loads carry the criteria of the statement that loaded the
    # object already; they only need the parameter.
    if not (state.is_column_load or state.is_relationship_load):
        state.statement = state.statement.options(_TENANT_CRITERIA)


def _check_inserted_tenant(state: ORMExecuteState) -> None:
    """An ORM INSERT of parameter sets (``session.execute(insert(Model), rows)``) bypasses the
    flush and its tenant stamp: in a tenant session each row must name the session's tenant."""
    mapper = state.bind_mapper
    if mapper is None or not issubclass(mapper.class_, TenantScoped):
        return
    tenant_id = state.session.info.get("tenant_id")
    if tenant_id is None:
        if not state.session.info.get("system"):
            raise TenantScopeMissing("tenant data inserted without a tenant")
        return
    params = state.parameters
    if not params:
        return  # values written into the statement itself
    rows = [params] if isinstance(params, Mapping) else params
    for row in rows:
        if row.get("tenant_id") != tenant_id:
            raise TenantScopeMissing(f"{mapper.class_.__name__} inserted into another tenant")


@event.listens_for(Session, "before_flush")
def _stamp_tenant(session: Session, _ctx: Any, _instances: Any) -> None:
    tenant_id = session.info.get("tenant_id")
    for obj in list(session.new) + list(session.dirty):
        if not isinstance(obj, TenantScoped):
            continue
        if obj.tenant_id is None and tenant_id is not None:
            obj.tenant_id = tenant_id
        if obj.tenant_id is None:
            raise TenantScopeMissing(f"{type(obj).__name__} written without a tenant")
        if tenant_id is not None and obj.tenant_id != tenant_id:
            raise TenantScopeMissing(f"{type(obj).__name__} written into another tenant")


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


_database: Database | None = None


def get_database() -> Database:
    global _database
    if _database is None:
        from socialcrm.core.settings import get_settings

        _database = Database(make_engine(get_settings().database_url))
    return _database


def set_database(database: Database | None) -> None:
    """Swap the process-wide database (tests, CLI with a custom URL)."""
    global _database
    _database = database


def current_database() -> Database | None:
    """The process database if one was opened or set, without opening one (the command line
    checks that a database exists before it opens, and so creates, one)."""
    return _database

"""Engine, sessions and the structural tenant guard.

Every model that belongs to a tenant inherits ``TenantScoped``. A session opened for a tenant
adds ``tenant_id = :tenant`` to every ORM query it runs (SELECT, UPDATE, DELETE) and stamps new
rows; a session opened for no tenant refuses to touch tenant data unless it is a ``system``
session (migrations, periodic fan-out). Forgetting the tenant filter is therefore impossible.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    JSON,
    Connection,
    DateTime,
    Engine,
    ForeignKey,
    Integer,
    MetaData,
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
from sqlalchemy.sql.base import ExecutableOption
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


def make_engine(url: str, **kwargs: Any) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        pool = {"pool_size": POOL_SIZE, "max_overflow": POOL_OVERFLOW}
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            **({} if ":memory:" in url else pool),
            **kwargs,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "savepoint", _sqlite_savepoint)
        return engine
    return create_engine(
        url, pool_pre_ping=True, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW, **kwargs
    )


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


@event.listens_for(Session, "do_orm_execute")
def _scope_to_tenant(state: ORMExecuteState) -> None:
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.is_column_load or state.is_relationship_load:
        return
    tenant_id = state.session.info.get("tenant_id")
    if tenant_id is None:
        if state.session.info.get("system"):
            return
        if any(issubclass(m.class_, TenantScoped) for m in state.all_mappers):
            raise TenantScopeMissing("tenant data queried without a tenant")
        return
    state.statement = state.statement.options(_tenant_criteria(tenant_id))


@lru_cache(maxsize=4096)
def _tenant_criteria(tenant_id: int) -> ExecutableOption:
    """Every TenantScoped entity of a statement filtered to ``tenant_id`` (one option object per
    tenant, reused: building it costs more than most queries it guards)."""
    return with_loader_criteria(
        TenantScoped,
        lambda cls: cls.tenant_id == tenant_id,
        include_aliases=True,
        track_closure_variables=True,
    )


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

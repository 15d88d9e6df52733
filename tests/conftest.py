"""Test harness: real databases, one rolled-back transaction per test, the sandbox over HTTP.

SQLite always; PostgreSQL when SOCIALCRM_TEST_POSTGRES_URL is set (CI sets it, and fails
loudly when the server is missing); Redis likewise with SOCIALCRM_TEST_REDIS_URL.
"""

from __future__ import annotations

import os
import re
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

_DATA_DIR = tempfile.mkdtemp(prefix="socialcrm-test-")
os.environ.setdefault("SOCIALCRM_DATA_DIR", _DATA_DIR)
os.environ["SOCIALCRM_IMMEDIATE_QUEUE"] = "true"
os.environ["SOCIALCRM_BASE_URL"] = "http://testserver"
os.environ["SOCIALCRM_PROVIDER_POLL_INTERVAL_S"] = "0"  # networks still processing a post
os.environ.pop("SOCIALCRM_SANDBOX_URL", None)
os.environ.pop("SOCIALCRM_DATABASE_URL", None)
os.environ.pop("SOCIALCRM_QUEUE_URL", None)

import pytest  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import Engine, event, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from socialcrm.core.db import Database, make_engine, set_database  # noqa: E402
from socialcrm.core.logging import configure_logging  # noqa: E402
from socialcrm.core.principal import Role  # noqa: E402
from socialcrm.core.settings import get_settings  # noqa: E402
from socialcrm.migrations import upgrade  # noqa: E402
from socialcrm.tenancy.models import Tenant  # noqa: E402
from socialcrm.tenancy.service import (  # noqa: E402
    create_api_key,
    forget_principals,
    get_or_create_tenant,
)
from socialcrm.wiring import wire  # noqa: E402
from socialcrm_sandbox.schema import TEST_WORLD_PATH  # noqa: E402
from tests.txn_guard import (  # noqa: E402  every test: no provider call in a write transaction
    no_provider_call_in_write_transaction as no_provider_call_in_write_transaction,
)

wire()  # the domain events' subscribers, as every entry point of the product wires them

PG_URL = os.environ.get("SOCIALCRM_TEST_POSTGRES_URL", "")
REDIS_URL = os.environ.get("SOCIALCRM_TEST_REDIS_URL", "")
# One schema per test process: several runs (and developers) can share one PostgreSQL.
PG_SCHEMA = f"socialcrm_test_{os.getpid()}"
TEST_WORLD = TEST_WORLD_PATH


def _sqlite_transactional(engine: Engine) -> None:
    """pysqlite defers BEGIN and so breaks SAVEPOINTs; tests need both (SQLAlchemy's recipe)."""

    @event.listens_for(engine, "connect")
    def _no_implicit(dbapi_connection: object, _record: object) -> None:
        dbapi_connection.isolation_level = None  # type: ignore[attr-defined]

    @event.listens_for(engine, "begin")
    def _begin(conn: object) -> None:
        conn.exec_driver_sql("BEGIN")  # type: ignore[attr-defined]


def make_test_engine(tmp_dir: str) -> Engine:
    if PG_URL:
        admin = make_engine(PG_URL)
        try:
            with admin.begin() as conn:
                conn.execute(text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
                conn.execute(text(f"CREATE SCHEMA {PG_SCHEMA}"))
        except Exception as exc:  # CI must fail loudly when PostgreSQL is missing
            pytest.exit(f"PostgreSQL at SOCIALCRM_TEST_POSTGRES_URL is not reachable: {exc}", 3)
        finally:
            admin.dispose()
        sep = "&" if "?" in PG_URL else "?"
        url = f"{PG_URL}{sep}options=-csearch_path%3D{PG_SCHEMA}"
        upgrade(url)
        return make_engine(url)
    url = f"sqlite:///{tmp_dir}/test.db"
    upgrade(url)
    engine = make_engine(url)
    _sqlite_transactional(engine)
    return engine


@pytest.fixture(scope="session")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    eng = make_test_engine(str(tmp_path_factory.mktemp("db")))
    yield eng
    eng.dispose()
    if PG_URL:
        admin = make_engine(PG_URL)
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
        admin.dispose()


@pytest.fixture
def database(engine: Engine) -> Iterator[Database]:
    """Everything a test does happens in one transaction that is rolled back afterwards."""
    connection = engine.connect()
    outer = connection.begin()
    db = Database(engine, bind=connection)
    set_database(db)
    forget_principals()  # a key cached by an earlier test must not outlive its rollback
    try:
        yield db
    finally:
        set_database(None)
        outer.rollback()
        connection.close()


@contextmanager
def empty_database(tmp_path: Path, name: str) -> Iterator[str]:
    """The URL of an empty database of one's own, not yet migrated: a PostgreSQL schema when
    SOCIALCRM_TEST_POSTGRES_URL is set (dropped afterwards), else an SQLite file. Dispose of
    engines on it before leaving."""
    if not PG_URL:
        yield f"sqlite:///{tmp_path}/{name}.db"
        return
    schema = f"{PG_SCHEMA}_{name}"
    admin = make_engine(PG_URL)
    try:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        sep = "&" if "?" in PG_URL else "?"
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()


@contextmanager
def committed_database(tmp_path: Path, name: str) -> Iterator[tuple[Database, str]]:
    """A migrated database of one's own whose transactions really commit (the process
    database meanwhile), and its URL for other processes."""
    with empty_database(tmp_path, name) as url:
        upgrade(url)
        db = Database(make_engine(url))
        set_database(db)
        try:
            yield db, url
        finally:
            set_database(None)
            db.engine.dispose()


@contextmanager
def committed_tenant(db: Database, prefix: str) -> Iterator[int]:
    """A tenant committed for real in ``db`` (the process database meanwhile), deleted with
    everything it owns afterwards."""
    set_database(db)
    try:
        with db.session(system=True) as session:
            tenant_id = get_or_create_tenant(session, f"{prefix} {uuid.uuid4().hex[:8]}").id
        try:
            yield tenant_id
        finally:
            with db.session(system=True) as session:
                session.delete(session.get(Tenant, tenant_id))
    finally:
        set_database(None)


@pytest.fixture
def committed_engine(engine: Engine, tmp_path: Path) -> Iterator[Engine]:
    """For racing writers on committed data. PostgreSQL: the test schema itself. SQLite: a
    fresh file with the production engine settings (the test engine's eager BEGIN is for
    savepoints, not for racing writers)."""
    if PG_URL:
        yield engine
        return
    url = f"sqlite:///{tmp_path}/committed.db"
    upgrade(url)
    fresh = make_engine(url)
    yield fresh
    fresh.dispose()


@pytest.fixture
def system_session(database: Database) -> Iterator[Session]:
    with database.session(system=True) as session:
        yield session


def make_tenant(session: Session, *, name: str = "Tenant A") -> Tenant:
    return get_or_create_tenant(session, name)


def csrf_of(page: str) -> str:
    """The CSRF token a UI form carries."""
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found is not None, "no csrf field on the page"
    return found[1]


def ui_login(client: TestClient, email: str, password: str) -> TestClient:
    """``client`` logged in through the real /login form."""
    answer = client.post(
        "/login",
        data={"email": email, "password": password, "csrf": csrf_of(client.get("/login").text)},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    return client


def make_api_key(session: Session, *, tenant: Tenant, role: Role = Role.ADMIN) -> str:
    return create_api_key(session, tenant=tenant, role=role)[1]


@pytest.fixture
def app_client(database: Database) -> Iterator[TestClient]:
    from socialcrm.app import create_app

    with TestClient(create_app(), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def tenant_key(database: Database) -> str:
    with database.session(system=True) as session:
        return make_api_key(session, tenant=make_tenant(session, name="Tenant A"))


@pytest.fixture
def api(app_client: TestClient, tenant_key: str) -> TestClient:
    app_client.headers["Authorization"] = f"Bearer {tenant_key}"
    return app_client


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[object]:
    from socialcrm_sandbox.testing import start_sandbox

    running = start_sandbox(TEST_WORLD)
    yield running
    running.stop()


@pytest.fixture
def sandbox(sandbox_server: object) -> Iterator[object]:
    """The sandbox, reset to the test world, and every adapter pointed at it."""
    settings = get_settings()
    sandbox_server.reset()  # type: ignore[attr-defined]
    previous = settings.sandbox_url
    settings.sandbox_url = sandbox_server.url  # type: ignore[attr-defined]
    try:
        yield sandbox_server
    finally:
        settings.sandbox_url = previous


def unavailable(what: str) -> NoReturn:
    """A piece a test needs is missing: in CI that is a broken set-up and fails the test;
    outside CI (a developer's machine) the test is skipped."""
    if os.environ.get("CI"):
        pytest.fail(f"CI needs {what} (scripts/ensure-test-deps.sh and .ci/run provide it)")
    else:
        pytest.skip(f"{what} is not available (outside CI)")


CHROMIUM = Path("/usr/bin/chromium")  # Debian's (Playwright's own download does not work here)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def chromium() -> Path:
    if not CHROMIUM.exists():
        unavailable("Debian's chromium")
    return CHROMIUM


@pytest.fixture
def redis_url() -> str:
    if not REDIS_URL:
        unavailable("SOCIALCRM_TEST_REDIS_URL (a Redis to test the Redis queue against)")
    return REDIS_URL


def pytest_configure(config: pytest.Config) -> None:
    # What the service does at start: one redacting handler, plain tracebacks (no locals).
    configure_logging("console")

"""Outages of our own dependencies (issue 21 item 7), with the real PostgreSQL and Redis made
unreachable through a local TCP proxy (``tests/faultproxy.py``): refused, or accepting and then
silent. The API answers 503 ``upstream_unavailable`` with ``Retry-After`` instead of a 500 or a
hang, ``/health`` names the dependency that is down, everything works again once it is back,
and a commit whose queue was down keeps its follow-up job (the outbox) until it can be sent.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from socialcrm.core.db import Database, make_engine, normalise_url, set_database
from socialcrm.core.errors import outage_of
from socialcrm.core.outbox import QueuedTask
from socialcrm.core.queue import make_huey
from socialcrm.core.settings import Settings, get_settings
from socialcrm.crm.models import Account
from socialcrm.discovery.models import AccountDiscoveryRun
from socialcrm.tenancy.service import forget_principals
from tests.conftest import (
    PG_URL,
    REDIS_URL,
    committed_database,
    make_api_key,
    make_tenant,
    unavailable,
)
from tests.faultproxy import BLACKHOLE, PASS, REFUSE, FaultProxy, fault_proxy
from tests.live import free_port, live_app

SOCIALCRM = Path(sys.executable).with_name("socialcrm")
# A hang fails the test at this bound (far above the timeouts configured here), never passes.
CLIENT_TIMEOUT_S = 60.0


def _assert_unavailable(answer: httpx.Response, dependency: str) -> None:
    assert answer.status_code == 503, answer.text
    error = answer.json()["error"]
    assert error["code"] == "upstream_unavailable"
    assert error["details"]["dependency"] == dependency
    assert int(answer.headers["Retry-After"]) >= 1


# --- PostgreSQL -------------------------------------------------------------------------------


@pytest.fixture
def short_db_timeouts() -> Iterator[None]:
    settings = get_settings()
    saved = settings.db_connect_timeout_s, settings.db_statement_timeout_s
    settings.db_connect_timeout_s, settings.db_statement_timeout_s = 2, 2.0
    try:
        yield
    finally:
        settings.db_connect_timeout_s, settings.db_statement_timeout_s = saved


# The SQLite pass has no database server to make unreachable: these run in the PostgreSQL pass
# (CI runs both; `make test` too when PostgreSQL is there).
postgresql_pass = pytest.mark.skipif(
    not PG_URL, reason="a PostgreSQL outage: the PostgreSQL pass (SOCIALCRM_TEST_POSTGRES_URL)"
)


@pytest.fixture
def pg_behind_proxy(tmp_path: Path, short_db_timeouts: None) -> Iterator[tuple[FaultProxy, str]]:
    """The app (live, under uvicorn) on PostgreSQL through the proxy; an API key for it."""
    with committed_database(tmp_path, "outage") as (db, url):
        with db.session(system=True) as session:
            key = make_api_key(session, tenant=make_tenant(session, name="Outage PG"))
        direct = make_url(normalise_url(url))
        with fault_proxy(direct.host or "127.0.0.1", direct.port or 5432) as proxy:
            proxied_url = direct.set(host="127.0.0.1", port=proxy.port)
            proxied = Database(make_engine(proxied_url.render_as_string(hide_password=False)))
            set_database(proxied)
            forget_principals()
            try:
                yield proxy, key
            finally:
                set_database(db)
                proxied.engine.dispose()


@postgresql_pass
@pytest.mark.parametrize("fault", [REFUSE, BLACKHOLE])
def test_a_database_that_is_down_gives_503_and_health_says_so_until_it_is_back(
    pg_behind_proxy: tuple[FaultProxy, str], fault: str
) -> None:
    proxy, key = pg_behind_proxy
    with live_app() as base, httpx.Client(base_url=base, timeout=CLIENT_TIMEOUT_S) as client:
        client.headers["Authorization"] = f"Bearer {key}"
        assert client.get("/api/contacts").status_code == 200  # a pooled connection now
        proxy.set(fault)
        forget_principals()
        # A pooled connection (its ping is cut off when the server says nothing), then a
        # new one (refused, or its connect timeout): both 503, neither a 500 nor a hang.
        _assert_unavailable(client.get("/api/contacts"), "database")
        _assert_unavailable(client.post("/api/contacts", json={"name": "Ada"}), "database")
        health = client.get("/health")
        assert health.status_code == 503
        assert health.json()["checks"]["database"]["status"] == "unavailable"
        assert health.json()["checks"]["queue"] == {"status": "ok"}
        assert "Retry-After" in health.headers

        proxy.set(PASS)
        assert client.get("/health").json()["checks"]["database"] == {"status": "ok"}
        assert client.post("/api/contacts", json={"name": "Ada"}).status_code == 201
        assert client.get("/api/contacts").status_code == 200


@postgresql_pass
def test_a_statement_past_the_timeout_is_cancelled_by_the_server(
    short_db_timeouts: None, tmp_path: Path
) -> None:
    """``SOCIALCRM_DB_STATEMENT_TIMEOUT_S`` reaches PostgreSQL as its ``statement_timeout``."""
    from sqlalchemy import text

    engine = make_engine(PG_URL)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SHOW statement_timeout")).scalar() == "2s"
            with pytest.raises(Exception) as raised:
                conn.execute(text("SELECT pg_sleep(30)"))
        assert outage_of(raised.value) == "database"
        assert "statement timeout" in str(raised.value)
    finally:
        engine.dispose()


# --- Redis ------------------------------------------------------------------------------------


class Served:
    """``socialcrm serve`` in its own process, on the pass's database and Redis via the proxy."""

    def __init__(self, db: Database, env: dict[str, str], proxy: FaultProxy, key: str) -> None:
        self.db, self.env, self.proxy, self.key = db, env, proxy, key


def _wait_for(check: Callable[[], Any], what: str, timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    if not REDIS_URL:
        unavailable("SOCIALCRM_TEST_REDIS_URL (a Redis to make unreachable)")
    redis = urlsplit(REDIS_URL)
    direct_queue = make_huey(
        Settings(queue_url=REDIS_URL, data_dir=tmp_path, immediate_queue=False)
    )
    direct_queue.flush()
    with (
        committed_database(tmp_path, "redisout") as (db, url),
        fault_proxy(redis.hostname or "127.0.0.1", redis.port or 6379) as proxy,
    ):
        with db.session(system=True) as session:
            key = make_api_key(session, tenant=make_tenant(session, name="Outage Redis"))
        port = free_port()
        env = os.environ | {
            "SOCIALCRM_DATABASE_URL": url,
            "SOCIALCRM_QUEUE_URL": f"redis://127.0.0.1:{proxy.port}{redis.path}",
            "SOCIALCRM_DATA_DIR": str(tmp_path),
            "SOCIALCRM_SECRET_KEYS": ",".join(get_settings().secret_keys),
            "SOCIALCRM_IMMEDIATE_QUEUE": "false",
            "SOCIALCRM_LOG_FORMAT": "json",
            "SOCIALCRM_REDIS_TIMEOUT_S": "2",
            "SOCIALCRM_BASE_URL": f"http://127.0.0.1:{port}",
        }
        with (tmp_path / "serve.log").open("w") as log:
            server = subprocess.Popen(
                [str(SOCIALCRM), "serve", "--no-worker", "--port", str(port)],
                env=env,
                stdout=log,
                stderr=log,
            )
            try:
                base = f"http://127.0.0.1:{port}"
                _wait_for(lambda: _healthy(base), "the server to start")
                env["BASE"] = base
                yield Served(db, env, proxy, key)
            finally:
                server.terminate()
                server.wait(20)
                direct_queue.flush()


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/health", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def _client(served: Served) -> httpx.Client:
    return httpx.Client(
        base_url=served.env["BASE"],
        timeout=CLIENT_TIMEOUT_S,
        headers={"Authorization": f"Bearer {served.key}"},
    )


RESOLVE = {"handle": "ada_outage", "channel": "x", "user_id": "4242"}
JOB = {"items": [{"name": "Acme", "site_web": "https://acme.example"}]}


@pytest.mark.parametrize("fault", [REFUSE, BLACKHOLE])
def test_redis_down_gives_503_on_resolve_and_jobs_and_health_names_the_queue(
    served: Served, fault: str
) -> None:
    with _client(served) as client:
        assert client.post("/api/v1/resolve", json=RESOLVE).status_code == 200
        served.proxy.set(fault)
        health = client.get("/health")
        assert health.status_code == 503, health.text
        assert health.json()["status"] == "unavailable"
        assert health.json()["checks"]["queue"]["status"] == "unavailable"
        assert health.json()["checks"]["database"] == {"status": "ok"}
        _assert_unavailable(client.post("/api/v1/resolve", json=RESOLVE), "redis")
        _assert_unavailable(client.post("/api/jobs/socials", json=JOB), "redis")

        served.proxy.set(PASS)
        assert client.get("/health").status_code == 200
        assert client.post("/api/v1/resolve", json=RESOLVE).status_code == 200
        assert client.post("/api/jobs/socials", json=JOB).status_code == 202


def _outbox(db: Database) -> list[str]:
    with db.session(system=True) as session:
        return list(session.scalars(select(QueuedTask.task)))


@pytest.mark.parametrize("fault", [REFUSE, BLACKHOLE])
def test_an_account_made_while_redis_is_down_gets_its_discovery_once_redis_is_back(
    served: Served, fault: str, tmp_path: Path
) -> None:
    with _client(served) as client:
        served.proxy.set(fault)
        made = client.post(
            "/api/accounts", json={"name": "Outage Ltd", "website": "http://127.0.0.1:9/"}
        )
        # Stored, and so is the job that reads its website: the client has no reason to retry.
        assert made.status_code == 201, made.text
    account_id = made.json()["id"]
    with served.db.session(system=True) as session:
        names = session.scalars(select(Account.name).where(Account.name == "Outage Ltd"))
        assert list(names) == ["Outage Ltd"]
    assert [name.rsplit(".", 1)[-1] for name in _outbox(served.db)] == ["discover_account"]

    served.proxy.set(PASS)
    with (tmp_path / "worker.log").open("w") as log:
        worker = subprocess.Popen(
            [str(SOCIALCRM), "worker", "--workers", "1"], env=served.env, stdout=log, stderr=log
        )
        try:
            # The starting worker relays the kept job; it runs: the Account's website was read.
            _wait_for(lambda: _ran(served.db, account_id), "the discovery of the Account")
        finally:
            worker.terminate()
            worker.wait(20)
    assert _outbox(served.db) == []
    assert _ran(served.db, account_id) == 1


def _ran(db: Database, account_id: int) -> int:
    with db.session(system=True) as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(AccountDiscoveryRun)
                .where(AccountDiscoveryRun.account_id == account_id)
            )
            or 0
        )


# --- start-up ---------------------------------------------------------------------------------


@pytest.mark.parametrize("command", [["migrate"], ["serve", "--no-worker", "--port", "0"]])
@pytest.mark.parametrize("fault", [REFUSE, BLACKHOLE])
def test_starting_against_a_dead_database_says_so_in_one_line(
    command: list[str], fault: str, tmp_path: Path
) -> None:
    """No server is needed behind the proxy: it refuses, or accepts and never answers."""
    with fault_proxy("127.0.0.1", 9) as proxy:
        proxy.set(fault)
        run = subprocess.run(
            [str(SOCIALCRM), *command],
            env=os.environ
            | {
                "SOCIALCRM_DATABASE_URL": f"postgresql://crm:s3cret@127.0.0.1:{proxy.port}/crm",
                "SOCIALCRM_DATA_DIR": str(tmp_path),
                "SOCIALCRM_DB_CONNECT_TIMEOUT_S": "2",
                "SOCIALCRM_LOG_FORMAT": "json",
            },
            capture_output=True,
            text=True,
            timeout=CLIENT_TIMEOUT_S,
        )
    assert run.returncode == 3, run.stderr
    assert "Traceback" not in run.stdout + run.stderr
    [line] = run.stderr.strip().splitlines()
    assert line.startswith(
        f"error: cannot reach the database at postgresql://crm:***@127.0.0.1:{proxy.port}/crm: "
    )
    assert "s3cret" not in run.stdout + run.stderr


# --- what counts as an outage -----------------------------------------------------------------


def _sqlite_error(sql: str) -> Exception:
    from sqlalchemy import create_engine, text

    engine = create_engine("sqlite://")
    try:
        with engine.connect() as conn:
            conn.execute(text(sql))
    except Exception as exc:
        return exc
    finally:
        engine.dispose()
    raise AssertionError("no error")


def test_only_unreachable_dependencies_count_as_outages() -> None:
    import redis
    from sqlalchemy import exc as sa_exc

    assert outage_of(sa_exc.TimeoutError("pool exhausted")) == "database"
    assert outage_of(redis.exceptions.ConnectionError("refused")) == "redis"
    assert outage_of(redis.exceptions.TimeoutError("silent")) == "redis"
    # SQLite names a syntax error or a missing table "operational": a bug, a 500.
    assert outage_of(_sqlite_error("SELEC 1")) is None
    assert outage_of(_sqlite_error("SELECT * FROM nowhere")) is None
    assert outage_of(ValueError("x")) is None

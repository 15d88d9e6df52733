"""A token refresh holds no lock while the network answers, and two refreshes of one account
never both reach the network (X refresh tokens are single-use). On committed data: SQLite
with the production engine settings, or PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from socialcrm.connections import gateway, tokens
from socialcrm.connections.models import AccountStatus, SocialAccount
from socialcrm.core.db import Database
from socialcrm.providers.base import CallContext, ProfileData, Provider
from tests.conftest import committed_database
from tests.connections.flow import api_of_new_tenant, connect, register_app

T = TypeVar("T")


@pytest.fixture
def x_account(tmp_path: Path, sandbox: object) -> Iterator[tuple[Database, int, int]]:
    """(database, tenant id, account id): an X account connected on committed data."""
    with committed_database(tmp_path, "refresh") as (db, _url):
        with api_of_new_tenant(db, "Refresh Co") as (api, tenant_id):
            register_app(api, "x")
            account_id = int(connect(api, "x", "ada")["id"])
        yield db, tenant_id, account_id


class HeldNetwork:
    """The first provider call waits at the network until ``release``; the rest go through."""

    def __init__(self) -> None:
        self.calls = 0
        self.reached = threading.Event()
        self.released = threading.Event()
        self._real = gateway.call

    def call(
        self, provider: str, action: Callable[[Provider], Awaitable[T]], *, instance_url: str = ""
    ) -> T:
        self.calls += 1
        if self.calls == 1:
            self.reached.set()
            assert self.released.wait(20), "the test never released the network"
        return self._real(provider, action, instance_url=instance_url)


@pytest.fixture
def network(monkeypatch: pytest.MonkeyPatch) -> HeldNetwork:
    held = HeldNetwork()
    monkeypatch.setattr(gateway, "call", held.call)
    return held


@contextmanager
def impatient_session(db: Database, tenant_id: int) -> Iterator[Session]:
    """A unit of work that waits at most a second for a lock instead of the usual 30."""
    with db.session(tenant_id=tenant_id) as session:
        if db.engine.dialect.name == "sqlite":
            session.execute(text("PRAGMA busy_timeout = 1000"))
        else:
            session.execute(text("SET LOCAL lock_timeout = '1s'"))
        yield session


def in_thread(work: Callable[[], Any], name: str = "first") -> tuple[threading.Thread, list[Any]]:
    results: list[Any] = []

    def run() -> None:
        try:
            results.append(work())
        except BaseException as exc:  # the assertion below shows it
            results.append(exc)

    thread = threading.Thread(target=run, name=name)
    thread.start()
    return thread, results


async def whoami(provider: Provider, ctx: CallContext) -> ProfileData:
    return await provider.me(ctx)


def test_the_account_stays_writable_while_its_refresh_waits_for_the_network(
    x_account: tuple[Database, int, int], network: HeldNetwork
) -> None:
    db, tenant_id, account_id = x_account
    refresher, results = in_thread(
        lambda: tokens.refresh_tokens(db, tenant_id, account_id, force=True)
    )
    try:
        assert network.reached.wait(20)
        with impatient_session(db, tenant_id) as session:  # used to wait 30 s, then fail
            account = session.get(SocialAccount, account_id)
            assert account is not None
            account.display_name = "Ada, renamed meanwhile"
    finally:
        network.released.set()
        refresher.join(30)
    assert results == [True]
    with db.session(tenant_id=tenant_id) as session:
        account = session.get(SocialAccount, account_id)
        assert account is not None
        assert (account.display_name, account.status) == ("Ada, renamed meanwhile", "active")
        assert account.refresh_claimed_until is None


def test_racing_refreshes_of_one_account_reach_the_network_once(
    x_account: tuple[Database, int, int],
    network: HeldNetwork,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    db, tenant_id, account_id = x_account
    with db.session(tenant_id=tenant_id) as session:
        before = session.get(SocialAccount, account_id)
        assert before is not None
        version = before.token_version
    waiting = threading.Event()
    real_sleep = time.sleep

    def sleep(seconds: float) -> None:
        if threading.current_thread().name == "second":
            waiting.set()  # the second refresh waits for the first, not for a lock
        real_sleep(seconds)

    monkeypatch.setattr(time, "sleep", sleep)
    first, first_result = in_thread(
        lambda: tokens.refresh_tokens(db, tenant_id, account_id, force=True)
    )
    assert network.reached.wait(20)
    second, second_result = in_thread(
        lambda: tokens.refresh_tokens(db, tenant_id, account_id, force=True), name="second"
    )
    try:
        assert waiting.wait(20), "the second refresh did not wait for the first"
    finally:
        network.released.set()
        first.join(30)
        second.join(30)
    assert (first_result, second_result) == ([True], [True])
    assert network.calls == 1  # one refresh at the network; the other used its tokens
    with db.session(tenant_id=tenant_id) as session:
        after = session.get(SocialAccount, account_id)
        assert after is not None
        assert (after.status, after.token_version) == (AccountStatus.ACTIVE, version + 1)
    assert tokens.with_account(db, tenant_id, account_id, whoami).handle == "ada"

"""Failed logins are throttled per account and per client address: after too many within the
window the login answers 429 with Retry-After (on the page for a browser, in the error envelope
for anything else), the right password included, and the same whether the account exists."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import time_machine
from fastapi.testclient import TestClient
from httpx import Response

from socialcrm.app import create_app
from socialcrm.core.db import Database, utcnow
from socialcrm.core.principal import Role
from socialcrm.core.settings import Settings, get_settings
from socialcrm.tenancy.service import create_user
from tests.conftest import csrf_of, make_tenant

PASSWORD = "correct horse battery staple"
HTML = {"accept": "text/html,application/xhtml+xml"}


@pytest.fixture
def limits(database: Database, monkeypatch: pytest.MonkeyPatch) -> Settings:
    settings = get_settings()
    monkeypatch.setattr(settings, "login_failures_per_account", 3)
    monkeypatch.setattr(settings, "login_failures_per_address", 5)
    monkeypatch.setattr(settings, "login_failure_window_s", 900.0)
    with database.session(system=True) as session:
        tenant = make_tenant(session, name="Tenant A")
        for email in ("sam@a.test", "mia@a.test"):
            create_user(session, tenant=tenant, email=email, password=PASSWORD, role=Role.AGENT)
    return settings


@pytest.fixture
def browsers(limits: Settings) -> Iterator[dict[str, TestClient]]:
    """Browsers at distinct addresses (an IPv6 one among them), each with its login form."""
    app = create_app()
    addresses = ["203.0.113.7", "198.51.100.9", "192.0.2.44", "2001:db8:1:2::10", "2001:db8:9::1"]
    clients = {
        a: TestClient(app, raise_server_exceptions=False, client=(a, 5000)) for a in addresses
    }
    for client in clients.values():
        client.__enter__()
    yield clients
    for client in clients.values():
        client.__exit__(None, None, None)


def attempt(client: TestClient, email: str, password: str, **headers: str) -> Response:
    csrf = csrf_of(client.get("/login").text)
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf": csrf},
        headers=headers or HTML,
        follow_redirects=False,
    )


def test_an_account_is_throttled_whatever_the_address(browsers: dict[str, TestClient]) -> None:
    first, second, third, fourth, _ = browsers.values()
    with time_machine.travel(utcnow(), tick=False) as clock:
        for client in (first, second, third):
            assert attempt(client, "sam@a.test", "wrong password").status_code == 401
        refused = attempt(fourth, "sam@a.test", PASSWORD)  # the right password, too late
        assert refused.status_code == 429
        assert "too many failed logins" in refused.text
        assert 'name="password"' in refused.text  # the form, with its error
        assert 0 < int(refused.headers["retry-after"]) <= 900
        # Another account from the same addresses is not affected.
        assert attempt(fourth, "mia@a.test", PASSWORD).status_code == 303
        clock.shift(timedelta(seconds=int(refused.headers["retry-after"])))
        assert attempt(fourth, "sam@a.test", PASSWORD).status_code == 303


def test_an_address_is_throttled_whatever_the_account(browsers: dict[str, TestClient]) -> None:
    attacker, bystander, *_ = browsers.values()
    for n in range(5):  # five accounts, existing or not
        email = "sam@a.test" if n == 0 else f"nobody{n}@a.test"
        assert attempt(attacker, email, "wrong password").status_code == 401
    assert attempt(attacker, "mia@a.test", PASSWORD).status_code == 429
    assert attempt(bystander, "mia@a.test", PASSWORD).status_code == 303


def test_an_ipv6_address_counts_by_its_64(
    browsers: dict[str, TestClient], limits: Settings
) -> None:
    # 2001:db8:1:2::10 and another address of the same /64 are one sender.
    neighbour = TestClient(
        create_app(), raise_server_exceptions=False, client=("2001:db8:1:2::ffff", 5000)
    )
    with neighbour:
        for n in range(5):
            assert attempt(neighbour, f"nobody{n}@a.test", "wrong").status_code == 401
        assert attempt(browsers["2001:db8:1:2::10"], "mia@a.test", PASSWORD).status_code == 429
        assert attempt(browsers["2001:db8:9::1"], "mia@a.test", PASSWORD).status_code == 303


def test_a_throttled_unknown_account_looks_like_a_known_one(
    browsers: dict[str, TestClient],
) -> None:
    clients = list(browsers.values())
    answers = []
    for email in ("sam@a.test", "nobody@a.test"):
        for client in clients[:3]:
            attempt(client, email, "wrong password")
        answers.append(attempt(clients[3], email, "wrong password"))
    known, unknown = answers
    assert known.status_code == unknown.status_code == 429
    assert known.headers["retry-after"] == unknown.headers["retry-after"]
    assert known.text.replace("sam@a.test", "X") == unknown.text.replace("nobody@a.test", "X")


def test_a_script_gets_the_error_envelope(browsers: dict[str, TestClient]) -> None:
    client = browsers["203.0.113.7"]
    for _ in range(3):
        attempt(client, "sam@a.test", "wrong password", accept="application/json")
    refused = attempt(client, "sam@a.test", PASSWORD, accept="application/json")
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert refused.json()["error"]["details"]["retry_after"] == int(refused.headers["retry-after"])


def test_a_good_login_clears_the_accounts_failures(browsers: dict[str, TestClient]) -> None:
    client = browsers["203.0.113.7"]
    for _ in range(2):
        assert attempt(client, "sam@a.test", "wrong password").status_code == 401
    assert attempt(client, "sam@a.test", PASSWORD).status_code == 303
    for _ in range(2):  # two more mistakes later are not the third and fourth
        assert attempt(browsers["198.51.100.9"], "sam@a.test", "wrong").status_code == 401
    assert attempt(browsers["198.51.100.9"], "sam@a.test", PASSWORD).status_code == 303

"""Browser logins live on the server: logging out ends the session for every copy of the
cookie, deactivating a user or a tenant ends theirs for good, a new role applies at once, and a
session ends after its idle and absolute time."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import time_machine
from fastapi.testclient import TestClient

from socialcrm.app import create_app
from socialcrm.core.db import Database, utcnow
from socialcrm.core.principal import Principal, Role
from socialcrm.core.settings import get_settings
from socialcrm.tenancy.models import Tenant, User
from socialcrm.tenancy.policy import TenantPolicyChange
from socialcrm.tenancy.schemas import UserChange
from socialcrm.tenancy.service import change_tenant_policy, change_user, create_user
from tests.conftest import csrf_of, make_tenant, ui_login

PASSWORD = "correct horse battery staple"
COOKIE = "socialcrm_session"


@pytest.fixture
def users(database: Database) -> dict[str, int]:
    with database.session(system=True) as session:
        tenant = make_tenant(session, name="Tenant A")
        ids = {
            email: create_user(session, tenant=tenant, email=email, password=PASSWORD, role=role).id
            for email, role in (("ada@a.test", Role.ADMIN), ("sam@a.test", Role.AGENT))
        }
        ids["tenant"] = tenant.id
        return ids


@pytest.fixture
def browser(database: Database) -> Iterator[TestClient]:
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        yield client


def copy_of(cookie: str) -> TestClient:
    """Another browser (an attacker's) holding a copy of ``cookie``."""
    client = TestClient(create_app(), raise_server_exceptions=False)
    client.cookies.set(COOKIE, cookie)
    return client


def opens_contacts(client: TestClient) -> bool:
    answer = client.get("/contacts", follow_redirects=False)
    if answer.status_code == 303:
        assert (answer.headers["location"]).startswith("/login")
        return False
    assert answer.status_code == 200, answer.text[:300]
    return True


def log_out(client: TestClient) -> None:
    csrf = csrf_of(client.get("/contacts").text)
    answer = client.post("/logout", data={"csrf": csrf}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/login"


@pytest.mark.usefixtures("users")
def test_a_copied_cookie_stops_working_after_logout(browser: TestClient) -> None:
    ui_login(browser, "sam@a.test", PASSWORD)
    stolen = browser.cookies[COOKIE]
    thief = copy_of(stolen)
    assert opens_contacts(thief)  # the copy works while the session lasts
    log_out(browser)
    assert not opens_contacts(thief)
    # The live stream (EventSource sends the cookie) refuses it too.
    stream = thief.get("/api/notifications/stream")
    assert stream.status_code == 401
    assert stream.json()["error"]["code"] == "unauthenticated"


@pytest.mark.usefixtures("users")
def test_logging_out_one_browser_keeps_the_others(browser: TestClient) -> None:
    ui_login(browser, "sam@a.test", PASSWORD)
    with TestClient(create_app(), raise_server_exceptions=False) as laptop:
        ui_login(laptop, "sam@a.test", PASSWORD)
        log_out(browser)
        assert opens_contacts(laptop)
        assert not opens_contacts(browser)


@pytest.mark.usefixtures("users")
def test_logging_in_again_ends_the_browsers_previous_session(browser: TestClient) -> None:
    ui_login(browser, "sam@a.test", PASSWORD)
    earlier = copy_of(browser.cookies[COOKIE])
    ui_login(browser, "sam@a.test", PASSWORD)
    assert opens_contacts(browser)
    assert not opens_contacts(earlier)


def test_a_deactivated_user_stays_logged_out_when_reactivated(
    database: Database, users: dict[str, int], browser: TestClient
) -> None:
    ui_login(browser, "sam@a.test", PASSWORD)
    admin = Principal(tenant_id=users["tenant"], role=Role.ADMIN, user_id=users["ada@a.test"])
    for active in (False, True):
        with database.session(tenant_id=users["tenant"]) as session:
            change_user(session, admin, users["sam@a.test"], UserChange(active=active))
    assert not opens_contacts(browser)
    ui_login(browser, "sam@a.test", PASSWORD)  # a new login works again
    assert opens_contacts(browser)


def test_deactivating_the_tenant_ends_its_sessions_for_good(
    database: Database, users: dict[str, int], browser: TestClient
) -> None:
    ui_login(browser, "ada@a.test", PASSWORD)
    for active in (False, True):
        with database.session(system=True) as session:
            tenant = session.get(Tenant, users["tenant"])
            assert tenant is not None
            change_tenant_policy(session, tenant, TenantPolicyChange(active=active), actor="cli")
    assert not opens_contacts(browser)


def test_a_new_role_applies_at_the_next_request(
    database: Database, users: dict[str, int], browser: TestClient
) -> None:
    with database.session(system=True) as session:
        user = session.get(User, users["sam@a.test"])
        assert user is not None
        user.role = Role.ADMIN
    ui_login(browser, "sam@a.test", PASSWORD)
    assert browser.get("/admin/users").status_code == 200
    admin = Principal(tenant_id=users["tenant"], role=Role.ADMIN, user_id=users["ada@a.test"])
    with database.session(tenant_id=users["tenant"]) as session:
        change_user(session, admin, users["sam@a.test"], UserChange(role=Role.AGENT))
    assert browser.get("/admin/users").status_code == 403


@pytest.mark.usefixtures("users")
def test_a_session_ends_after_its_idle_time(browser: TestClient) -> None:
    idle = timedelta(seconds=get_settings().session_idle_s)
    with time_machine.travel(utcnow(), tick=False) as clock:
        ui_login(browser, "sam@a.test", PASSWORD)
        clock.shift(idle - timedelta(minutes=5))
        assert opens_contacts(browser)  # in use: the idle time starts again
        clock.shift(idle - timedelta(minutes=5))
        assert opens_contacts(browser)
        clock.shift(idle + timedelta(minutes=1))
        assert not opens_contacts(browser)


@pytest.mark.usefixtures("users")
def test_a_session_in_constant_use_ends_at_its_absolute_time(browser: TestClient) -> None:
    settings = get_settings()
    step = timedelta(seconds=settings.session_idle_s) / 2
    with time_machine.travel(utcnow(), tick=False) as clock:
        ui_login(browser, "sam@a.test", PASSWORD)  # the browser keeps the renewed cookie
        used = timedelta(0)
        while used + step < timedelta(seconds=settings.session_max_age_s):
            clock.shift(step)
            used += step
            assert opens_contacts(browser)
        clock.shift(step)
        assert not opens_contacts(browser)

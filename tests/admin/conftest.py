"""Two tenants with their people: Tenant A's admin, marketer and agent; Tenant B's admin."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from socialcrm.app import create_app
from socialcrm.core.db import Database
from socialcrm.core.principal import Role
from socialcrm.tenancy.models import Tenant
from socialcrm.tenancy.service import create_user
from tests.conftest import csrf_of, make_tenant, ui_login

PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class People:
    tenant_a: int
    tenant_b: int
    admin: int
    marketer: int
    agent: int
    admin_b: int


@pytest.fixture
def people(database: Database) -> People:
    with database.session(system=True) as session:
        a = make_tenant(session, name="Tenant A")
        b = make_tenant(session, name="Tenant B")

        def user(tenant: Tenant, email: str, role: Role) -> int:
            return create_user(session, tenant=tenant, email=email, password=PASSWORD, role=role).id

        return People(
            tenant_a=a.id,
            tenant_b=b.id,
            admin=user(a, "ada@a.test", Role.ADMIN),
            marketer=user(a, "mia@a.test", Role.MARKETING),
            agent=user(a, "sam@a.test", Role.AGENT),
            admin_b=user(b, "bob@b.test", Role.ADMIN),
        )


@pytest.fixture
def login(database: Database, people: People) -> Iterator[Callable[[str], TestClient]]:
    """A fresh browser-like client logged in as ``email`` (closed with the test)."""
    clients: list[TestClient] = []

    def log_in(email: str) -> TestClient:
        client = TestClient(create_app(), raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return ui_login(client, email, PASSWORD)

    yield log_in
    for client in clients:
        client.__exit__(None, None, None)


def post_form(client: TestClient, page: str, action: str, **fields: str | list[str]) -> Response:
    """Submit a form of ``page`` (its CSRF token) to ``action``, without following redirects."""
    data: dict[str, str | list[str]] = {"csrf": csrf_of(client.get(page).text), **fields}
    return client.post(action, data=data, follow_redirects=False)


def error_of(page: str, name: str) -> str:
    """The error shown beside field ``name`` (empty: none)."""
    found = re.search(rf'id="e-{re.escape(name)}">([^<]*)<', page)
    return html.unescape(found[1]) if found else ""


def value_of(page: str, name: str) -> str:
    """The value an input of the Admin area's forms shows."""
    pattern = rf'id="f-{re.escape(name)}" name="{re.escape(name)}" type="\w+" value="([^"]*)"'
    found = re.search(pattern, page)
    return html.unescape(found[1]) if found else ""

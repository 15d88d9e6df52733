"""Helpers of the CRM pages' tests: a logged-in browser-less client, and reading a page."""

from __future__ import annotations

import httpx
from fastapi.testclient import TestClient
from selectolax.lexbor import LexborHTMLParser

from socialcrm.core.db import Database
from socialcrm.core.principal import Role
from socialcrm.tenancy.service import create_user, get_or_create_tenant
from tests.conftest import csrf_of, ui_login

PASSWORD = "correct horse battery staple"
HTML = {"Accept": "text/html"}


def make_user(
    database: Database, tenant: str, email: str, role: Role = Role.ADMIN, name: str = ""
) -> tuple[int, int]:
    """A user of ``tenant`` (created when new): (tenant id, user id)."""
    with database.session(system=True) as session:
        found = get_or_create_tenant(session, tenant)
        user = create_user(
            session, tenant=found, email=email, password=PASSWORD, role=role, name=name
        )
        return found.id, user.id


def login(client: TestClient, email: str) -> TestClient:
    client.headers.update(HTML)
    return ui_login(client, email, PASSWORD)


def submit(
    client: TestClient, page_url: str, action: str, data: dict[str, object]
) -> httpx.Response:
    """Post a form the way the browser would: with the CSRF token of the page it is on."""
    page = client.get(page_url)
    assert page.status_code == 200, page.text
    return client.post(action, data={"csrf": csrf_of(page.text), **data}, follow_redirects=False)


def text_of(page: str, selector: str) -> str:
    node = LexborHTMLParser(page).css_first(selector)
    assert node is not None, f"nothing matches {selector}"
    return node.text(separator=" ", strip=True)


def value_of(page: str, selector: str) -> str:
    node = LexborHTMLParser(page).css_first(selector)
    assert node is not None, f"nothing matches {selector}"
    return node.attributes.get("value") or ""

"""The Account pages: profiles found on the website are accepted or rejected, like Contacts'."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from selectolax.lexbor import LexborHTMLParser

from socialcrm.core.db import Database
from socialcrm.core.principal import Role
from socialcrm.crm import service as crm
from socialcrm.crm.models import Account
from socialcrm.discovery import accounts
from socialcrm.tenancy.service import create_user
from tests.conftest import csrf_of, make_tenant, ui_login
from tests.discovery.sites import Site, serve_site

PAGES = Path(__file__).parent / "pages"
PASSWORD = "correct horse battery staple"
FACEBOOK = "https://www.facebook.com/rosewoodbakerypdx"
INSTAGRAM = "https://www.instagram.com/rosewoodbakerypdx"
HTML = {"Accept": "text/html"}
pytestmark = pytest.mark.usefixtures("allow_loopback", "fast_crawl")


@pytest.fixture
def website() -> Iterator[Site]:
    with serve_site() as site:
        site.page("/", (PAGES / "bakery_wordpress_footer.html").read_text())
        yield site


@pytest.fixture
def tenant_id(database: Database) -> int:
    with database.session(system=True) as session:
        tenant = make_tenant(session, name="Tenant A")
        create_user(
            session, tenant=tenant, email="ada@bakery.test", password=PASSWORD, role=Role.AGENT
        )
        return tenant.id


@pytest.fixture
def ui(app_client: TestClient, tenant_id: int) -> TestClient:
    return ui_login(app_client, "ada@bakery.test", PASSWORD)


def _make_account(database: Database, tenant_id: int, name: str, website: str = "") -> int:
    """Through the CRM service: a website queues its reading, which the test queue runs now."""
    with database.session(tenant_id=tenant_id) as session:
        return crm.create(session, Account, {"name": name, "website": website}).id


def _suggestions(page: str) -> dict[str, str]:
    """URL → suggestion id of the suggestions waiting on an Account page."""
    tree = LexborHTMLParser(page)
    return {
        (node.css_first("h3 a").attributes["href"] or ""): node.attributes["data-suggestion"] or ""
        for node in tree.css("article.suggestion")
    }


def _profiles(page: str) -> list[str]:
    tree = LexborHTMLParser(page)
    return [
        node.css_first("h3 a").attributes["href"] or ""
        for node in tree.css("article.profile:not(.suggestion)")
    ]


def test_the_list_shows_the_tenants_accounts(
    ui: TestClient, database: Database, tenant_id: int, website: Site
) -> None:
    account_id = _make_account(database, tenant_id, "Rosewood Bakery", website.url)
    with database.session(system=True) as session:
        other = make_tenant(session, name="Tenant B").id
    _make_account(database, other, "Someone Else's Co")

    page = ui.get("/accounts")
    assert page.status_code == 200
    tree = LexborHTMLParser(page.text)
    link = tree.css_first(f'table.grid a[href="/accounts/{account_id}"]')
    assert link is not None and link.text() == "Rosewood Bakery"
    assert website.url in page.text and "2 waiting" in page.text
    assert "Someone Else" not in page.text
    nav = tree.css_first('nav[aria-label="Main"] a[aria-current="page"]')
    assert nav is not None and nav.text() == "Accounts"


def test_accept_and_reject_and_a_rejection_is_remembered(
    ui: TestClient, database: Database, tenant_id: int, website: Site
) -> None:
    account_id = _make_account(database, tenant_id, "Rosewood Bakery", website.url)
    page = ui.get(f"/accounts/{account_id}")
    assert page.status_code == 200
    assert "Rosewood Bakery" in page.text
    waiting = _suggestions(page.text)
    assert set(waiting) == {FACEBOOK, INSTAGRAM}
    assert _profiles(page.text) == []

    base = f"/accounts/{account_id}/profile-suggestions"
    csrf = csrf_of(page.text)
    accepted = ui.post(
        f"{base}/{waiting[FACEBOOK]}/accept", data={"csrf": csrf}, follow_redirects=False
    )
    assert accepted.status_code == 303
    assert accepted.headers["location"].startswith(f"/accounts/{account_id}?notice=")
    rejected = ui.post(f"{base}/{waiting[INSTAGRAM]}/reject", data={"csrf": csrf})
    assert rejected.status_code == 200  # followed the redirect back to the Account
    assert "it will not be suggested again" in rejected.text
    assert _profiles(rejected.text) == [FACEBOOK]
    assert _suggestions(rejected.text) == {}

    # the website is read again (the nightly run): the rejected profile does not come back
    assert accounts.discover_account(database, tenant_id, account_id) == 0
    again = ui.get(f"/accounts/{account_id}")
    assert _suggestions(again.text) == {} and _profiles(again.text) == [FACEBOOK]
    assert "1 rejected profile will not be suggested again" in again.text
    with database.session(tenant_id=tenant_id) as session:
        decided = {
            s.url: (s.status, s.decided_by) for s in accounts.suggestions(session, account_id)
        }
    assert decided[FACEBOOK][0] == "accepted" and decided[FACEBOOK][1].startswith("user:")
    assert decided[INSTAGRAM][0] == "rejected"


def test_another_tenants_account_or_an_unknown_one_is_not_found(
    ui: TestClient, database: Database, website: Site
) -> None:
    with database.session(system=True) as session:
        other = make_tenant(session, name="Tenant B").id
    theirs = _make_account(database, other, "Their Bakery", website.url)
    with database.session(tenant_id=other) as session:
        suggestion = accounts.suggestions(session, theirs)[0].id

    for path in (f"/accounts/{theirs}", "/accounts/999999", "/accounts/0", f"/accounts/{2**70}"):
        answer = ui.get(path, headers=HTML)
        assert answer.status_code == 404, path
        assert "Their Bakery" not in answer.text and 'role="alert"' in answer.text

    csrf = csrf_of(ui.get("/accounts").text)
    answer = ui.post(
        f"/accounts/{theirs}/profile-suggestions/{suggestion}/reject",
        data={"csrf": csrf},
        headers=HTML,
    )
    assert answer.status_code == 404
    with database.session(tenant_id=other) as session:
        assert accounts.suggestions(session, theirs)[0].status == "suggested"


def test_a_decision_without_a_valid_csrf_token_is_refused(
    ui: TestClient, database: Database, tenant_id: int, website: Site
) -> None:
    account_id = _make_account(database, tenant_id, "Rosewood Bakery", website.url)
    waiting = _suggestions(ui.get(f"/accounts/{account_id}").text)
    url = f"/accounts/{account_id}/profile-suggestions/{waiting[FACEBOOK]}/accept"
    assert ui.post(url, data={"csrf": "forged"}, headers=HTML).status_code == 403
    assert set(_suggestions(ui.get(f"/accounts/{account_id}").text)) == {FACEBOOK, INSTAGRAM}


def test_the_pages_need_a_login(app_client: TestClient, database: Database) -> None:
    answer = app_client.get("/accounts/1", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=/accounts/1"

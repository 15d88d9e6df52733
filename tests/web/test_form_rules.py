"""Rules every form of the UI keeps, checked on every route the app has (so a page added later
is held to them too): a POST answers with a redirect to a page (303, POST-redirect-GET: a
reload never posts again) or with its page and a 4xx, never a 200 nor a 500; a banner's text
cannot come from the address; a destructive button asks first."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from selectolax.lexbor import LexborHTMLParser

from socialcrm.connections.models import AccountStatus, Ownership, SocialAccount
from socialcrm.core import notify
from socialcrm.core.db import Database
from socialcrm.core.principal import Role
from socialcrm.crm import service as crm
from socialcrm.crm.models import Account, Campaign, Contact, Lead, Ticket
from socialcrm.listening import pipeline
from socialcrm.tenancy.service import create_api_key, get_or_create_tenant
from tests.conftest import csrf_of
from tests.crm.ui_helpers import login, make_user
from tests.listening.factories import make_rule, post

MARKER = "Injected-banner-7f3a"
NOT_UI = ("/api", "/hooks", "/oauth", "/docs", "/openapi", "/static", "/r/", "/health")
DESTRUCTIVE = re.compile(r"/(delete|revoke|disconnect|deactivate)(/|$)")
# POSTs that change nothing and are fetched by a page's script, never navigated to: what a
# rule would have matched, a post's length per network. They answer their fragment (200).
READ_ONLY_POSTS = ("/listening/rules/preview", "/publishing/count")


def ui_routes(app: Any) -> Iterator[tuple[str, str]]:
    """(method, path) of every UI route, however the routers are nested."""

    def walk(routes: Any, prefix: str) -> Iterator[tuple[str, str]]:
        for route in routes:
            if hasattr(route, "original_router"):  # an included router
                context = route.include_context
                inner = context.get("prefix", "") if isinstance(context, dict) else context.prefix
                yield from walk(route.original_router.routes, prefix + (inner or ""))
                continue
            path = prefix + getattr(route, "path", "")
            if not path or path.startswith(NOT_UI):
                continue
            for method in sorted(getattr(route, "methods", None) or ()):
                yield method, path

    yield from walk(app.routes, "")


@pytest.fixture
def site(database: Database, app_client: TestClient) -> dict[str, Any]:
    tenant, ada = make_user(database, "Rules Co", "ada@rules.test", Role.ADMIN, "Ada Admin")
    _, sam = make_user(database, "Rules Co", "sam@rules.test", Role.AGENT, "Sam Agent")
    rule = make_rule(database, tenant, query="help", actions=["ticket"])
    with database.session(tenant_id=tenant) as session:
        ids: dict[str, Any] = {"user_id": sam, "rule_id": rule}
        ids["account"] = crm.create(session, Account, {"name": "Kestrel Labs"}).id
        ids["contact"] = crm.create(session, Contact, {"name": "Grace Hopper"}).id
        ids["lead"] = crm.create(session, Lead, {"name": "A lead"}).id
        ids["ticket"] = crm.create(session, Ticket, {"subject": "Broken strap"}).id
        ids["campaign"] = crm.create(session, Campaign, {"name": "Spring"}).id
        result = pipeline.ingest(session, tenant, [post("please help with my order")])
        ids["mention_id"] = result.mention_ids[0]
        ids["note_id"] = notify.notify(session, user_id=ada, kind="info", message="Hello").id
        brand = SocialAccount(provider="x", external_user_id="42", handle="rulesco")
        brand.ownership, brand.status = Ownership.BRAND, AccountStatus.ACTIVE
        session.add(brand)
        session.flush()
        ids["account_id_social"] = brand.id
    with database.session(system=True) as session:
        found = get_or_create_tenant(session, "Rules Co")
        ids["key_id"] = create_api_key(session, tenant=found, role=Role.AGENT)[0].id
    return {"client": login(app_client, "ada@rules.test"), "ids": ids}


def concrete(path: str, ids: dict[str, Any]) -> str:
    """A route's path with its parameters named by the records of ``site``."""
    kinds = ("contact", "account", "lead", "ticket", "campaign")
    record = next((k for k in kinds if path.startswith(f"/{k}s/")), "contact")

    def value(match: re.Match[str]) -> str:
        name = match[1]
        if name in ("rid", f"{record}_id"):
            return str(ids[record])
        if name in ("contact_id", "account_id", "ticket_id", "campaign_id", "lead_id"):
            return str(ids[name.removesuffix("_id")])
        if name == "action":
            return "reject"
        return str(ids.get(name, 1))

    return re.sub(r"\{(\w+)\}", value, path)


def test_every_ui_post_redirects_to_a_page_or_answers_its_page_with_a_4xx(
    site: dict[str, Any], app_client: TestClient
) -> None:
    ui, ids = site["client"], site["ids"]
    csrf = csrf_of(ui.get("/contacts").text)
    posts = [path for method, path in ui_routes(app_client.app) if method == "POST"]
    assert len(posts) > 40  # the walk found the app's forms
    for path in posts:
        if path in ("/login", "/logout") or path in READ_ONLY_POSTS:
            continue  # the session's own (tests/crm/test_auth.py), and the two fragments
        url = concrete(path, ids)
        answer = ui.post(url, data={"csrf": csrf}, follow_redirects=False)
        status = answer.status_code
        assert status == 303 or 400 <= status < 500, (url, status, answer.text[:300])
        if status == 303:  # where it sends the browser is a page, read with GET
            target = answer.headers["location"]
            if target.startswith("/"):
                assert ui.get(target).status_code in (200, 303), (url, target)
        else:
            assert answer.headers["content-type"].startswith(("text/html", "application/json"))
        if ui.get("/contacts", follow_redirects=False).status_code != 200:
            login(ui, "ada@rules.test")  # a form that logs out (deactivated itself): back in
            csrf = csrf_of(ui.get("/contacts").text)


def _pages(site: dict[str, Any], app: Any) -> list[str]:
    paths = {path for method, path in ui_routes(app) if method == "GET"}
    return sorted(
        concrete(path, site["ids"])
        for path in paths
        if not path.endswith((".csv", "/rows", "/events")) and path not in ("/", "/login")
    )


def test_no_banner_text_comes_from_the_address(
    site: dict[str, Any], app_client: TestClient
) -> None:
    ui = site["client"]
    injected = {
        name: MARKER for name in ("notice", "error", "message", "done", "saved", "flash")
    } | {"notice_sig": "0" * 32, "error_sig": "0" * 32}
    shown = 0
    for path in _pages(site, app_client.app):
        answer = ui.get(path, params=injected)
        if answer.status_code == 200 and "text/html" in answer.headers["content-type"]:
            shown += 1
            assert MARKER not in answer.text, path
    assert shown > 25


def test_a_banner_the_server_wrote_is_shown(site: dict[str, Any]) -> None:
    ui, ids = site["client"], site["ids"]
    page = ui.get("/listening/inbox")
    answer = ui.post(
        f"/listening/mentions/{ids['mention_id']}/ticket",
        data={"csrf": csrf_of(page.text), "back": "/listening/inbox"},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    shown = ui.get(answer.headers["location"])
    node = LexborHTMLParser(shown.text).css_first(".notice")
    assert node is not None and "ticket" in node.text().lower()


def test_destructive_buttons_ask_first(site: dict[str, Any], app_client: TestClient) -> None:
    """Delete, revoke, disconnect, deactivate: the button that does it is behind a question
    (an opened "Delete…" box, or a page of its own that asks)."""
    ui = site["client"]
    checked = 0
    for path in _pages(site, app_client.app):
        answer = ui.get(path)
        if answer.status_code != 200 or "text/html" not in answer.headers["content-type"]:
            continue
        asking_page = path.endswith("/delete")
        for form in LexborHTMLParser(answer.text).css("form"):
            action = form.attributes.get("action") or ""
            if not DESTRUCTIVE.search(action) or asking_page:
                continue
            checked += 1
            parent, asks = form.parent, False
            while parent is not None:
                if parent.tag == "details" and "confirm" in (parent.attributes.get("class") or ""):
                    asks = True
                    break
                parent = parent.parent
            assert asks, (path, action)
    assert checked >= 4  # a rule, a connected account, an API key, a user
